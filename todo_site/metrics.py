"""Prometheus metrics at /metrics, for operators (``prometheus_client``).

Off unless ``TODOS_METRICS`` is on. Then ``/metrics`` answers GET and HEAD to a
client whose address (``todos.ratelimit.address``: ``X-Forwarded-For`` only from
``TODOS_TRUSTED_PROXIES``) is in ``TODOS_METRICS_ALLOWED_NETWORKS`` (loopback by
default), or that sends ``Authorization: Bearer <TODOS_METRICS_TOKEN>``; anyone
else gets 403. It is answered ahead of the host checks, like /healthz, so a
scraper may address the server by its IP.

What it counts (every name starts ``todos_``):

- ``http_responses_total{status}``: every HTTP response, by status code;
- ``writes_total{via, outcome, status}``: every write, HTTP or WebSocket, as the
  write log line names it (``stored``, ``unchanged``, ``refused``);
- ``write_duration_seconds{via}``: how long writes took, a histogram;
- ``stored_bytes_total``: bytes of uploads that stored something;
- ``limit_refusals_total{via}``: writes refused by a rate limit or quota (429);
- ``open_sockets``: WebSockets open now;
- ``pushes_total`` and ``push_delay_seconds``: changes pushed to other sockets,
  and the time from the write's commit to the push leaving this process;
- ``documents`` and ``document_bytes``: stored lists and their total size, read
  from the database at each scrape.

With several server processes on one machine, set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory shared by them (emptied before they start): each process
writes its figures there and any of them answers for all.
"""

import hmac
import ipaddress
import os
import time

import prometheus_client
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

PATH = "/metrics"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

HTTP_RESPONSES = Counter(
    "todos_http_responses", "HTTP responses, by status code.", ["status"]
)
WRITES = Counter(
    "todos_writes",
    "Writes (HTTP and WebSocket), by outcome.",
    ["via", "outcome", "status"],
)
WRITE_DURATION = Histogram(
    "todos_write_duration_seconds",
    "Time to answer a write.",
    ["via"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STORED_BYTES = Counter("todos_stored_bytes", "Bytes of uploads that stored something.")
LIMIT_REFUSALS = Counter(
    "todos_limit_refusals", "Writes refused by a rate limit or quota (429).", ["via"]
)
OPEN_SOCKETS = Gauge(
    "todos_open_sockets", "WebSockets open now.", multiprocess_mode="livesum"
)
PUSHES = Counter("todos_pushes", "Changes pushed to sockets other than the writer's.")
PUSH_DELAY = Histogram(
    "todos_push_delay_seconds",
    "Time from a write's commit to its push leaving this process.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def observe_write(via, outcome, status, seconds, size):
    """Count one write (called with the write log line)."""
    WRITES.labels(via, outcome, str(status)).inc()
    WRITE_DURATION.labels(via).observe(seconds)
    if outcome == "stored":
        STORED_BYTES.inc(size)
    if status == 429:
        LIMIT_REFUSALS.labels(via).inc()


def observe_push(committed_at):
    """Count one push of a write committed at ``committed_at`` (``time.time()``)."""
    PUSHES.inc()
    if committed_at:
        PUSH_DELAY.observe(max(0.0, time.time() - committed_at))


class StoredDocuments:
    """Reads the stored lists' count and total size at each scrape."""

    def describe(self):  # registering must not query the database
        yield GaugeMetricFamily("todos_documents", "Stored lists.")
        yield GaugeMetricFamily("todos_document_bytes", "Bytes of all stored lists.")

    def collect(self):
        from django.db.models import Count, Sum

        from todos.models import Document

        totals = Document.objects.aggregate(count=Count("doc_id"), size=Sum("size"))
        yield GaugeMetricFamily("todos_documents", "Stored lists.", totals["count"])
        yield GaugeMetricFamily(
            "todos_document_bytes", "Bytes of all stored lists.", totals["size"] or 0
        )


def registry():
    """The registry to read: this process's, or every process's in multiprocess mode."""
    if not MULTIPROCESS:
        return prometheus_client.REGISTRY
    from prometheus_client import multiprocess

    scrape = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(scrape)
    scrape.register(StoredDocuments())
    return scrape


if not MULTIPROCESS:
    prometheus_client.REGISTRY.register(StoredDocuments())


def allowed(request):
    """Whether ``request`` may read the metrics: a token, or an allowed network."""
    from todos.ratelimit import address

    token = settings.TODOS_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        ip = ipaddress.ip_address(address.address_of_request(request))
    except ValueError:
        return False
    networks = address.parse_networks(
        settings.TODOS_METRICS_ALLOWED_NETWORKS, "TODOS_METRICS_ALLOWED_NETWORKS"
    )
    return any(ip in network for network in networks)


class Metrics:
    """Middleware: counts every response, and answers /metrics when it is on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.TODOS_METRICS and request.path_info.rstrip("/") == PATH:
            response = self.answer(request)
        else:
            response = self.get_response(request)
        HTTP_RESPONSES.labels(str(response.status_code)).inc()
        return response

    def answer(self, request):
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"error": "Use GET or HEAD."}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        if not allowed(request):
            return JsonResponse(
                {
                    "error": "The metrics are served only to addresses in "
                    "TODOS_METRICS_ALLOWED_NETWORKS, or with the header "
                    "'Authorization: Bearer <TODOS_METRICS_TOKEN>'."
                },
                status=403,
            )
        body = prometheus_client.generate_latest(registry())
        response = HttpResponse(
            b"" if request.method == "HEAD" else body,
            content_type=prometheus_client.CONTENT_TYPE_LATEST,
        )
        response["Cache-Control"] = "no-store"
        return response
