"""Health checks for load balancers: /healthz (liveness) and /readyz (readiness).

- ``/healthz``: the process answers HTTP: 200 ``{"status": "ok"}``.
- ``/readyz``: it can serve: the database answers a trivial query, every migration
  is applied, and the channel layer (Redis when several processes serve) accepts
  a group join and leave. 200 when all three pass, else 503; the JSON names each
  check and says "ok" or "failed", nothing more (the reason goes to the log).

No authentication, and they are answered ahead of the other middleware: a probe
that addresses the server by its IP (a Host not in ALLOWED_HOSTS) or over plain
HTTP behind a TLS proxy (no HTTPS redirect) gets the answer, not a 400 or 301.
"""

import asyncio
import logging
import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

logger = logging.getLogger("todo_site.health")

CHANNEL_LAYER_TIMEOUT = 2.0  # seconds; a Redis that does not answer has failed
PATHS = {"/healthz": "liveness", "/readyz": "readiness"}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_migrations():
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("unapplied migrations")


async def join_and_leave(layer):
    group = "readyz"
    channel = f"readyz.{secrets.token_hex(8)}"  # never receives anything
    await layer.group_add(group, channel)
    await layer.group_discard(group, channel)


def check_channel_layer():
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def bounded():
        await asyncio.wait_for(join_and_leave(layer), CHANNEL_LAYER_TIMEOUT)

    async_to_sync(bounded)()


CHECKS = {
    "database": check_database,
    "migrations": check_migrations,
    "channel_layer": check_channel_layer,
}


def readiness():
    """``(all passed, {check: "ok" or "failed"})``; failures are logged here."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"
            logger.warning("Readiness check %s failed: %r", name, exc)
            results[name] = "failed"
        else:
            results[name] = "ok"
    return all(result == "ok" for result in results.values()), results


def answer(body, status=200):
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


class HealthChecks:
    """Middleware answering /healthz and /readyz before anything else runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        kind = PATHS.get(request.path_info.rstrip("/") or "/")
        if kind is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = answer({"error": "Use GET or HEAD."}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        if kind == "liveness":
            return answer({"status": "ok"})
        ready, checks = readiness()
        if ready:
            return answer({"status": "ok", "checks": checks})
        response = answer({"status": "unavailable", "checks": checks}, status=503)
        # readiness() logged why; Django's "Service Unavailable" line would not say.
        response._has_been_logged = True
        return response
