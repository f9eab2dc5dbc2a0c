"""What a browser downloads to open a list page: bytes, the wasm's responses, time.

Shared by the cold-load test (tests/e2e/test_cold_load.py) and the benchmark
(benchmarks/cold_load.py). Bytes are what crossed the network (compressed bodies
plus headers), from the page and from its service worker; answers from the HTTP
cache or from the service worker count nothing.
"""

import re
from dataclasses import dataclass, field

WASM_URL = re.compile(r"/automerge(\.[0-9a-f]{12})?\.wasm$")
# The new-todo input is enabled once the document is loaded (view.ready()).
USABLE = """() => document.documentElement.dataset.ready === 'true'
    && !document.querySelector('.new-todo').disabled
    && performance.now()"""
TIMEOUT_MS = 30_000


@dataclass
class Load:
    """One visit: bytes from the network, and the wasm's responses among them."""

    bytes: int = 0
    wasm_bytes: int = 0
    wasm_responses: list = field(default_factory=list)  # (url, headers)
    usable_ms: float = 0.0


def record(context, load):
    """Add each finished request of ``context`` (pages and workers) to ``load``."""

    def finished(request):
        response = request.response()
        if response is None or response.from_service_worker:
            return  # the network part, if any, is the worker's own request
        sizes = request.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        load.bytes += size
        if WASM_URL.search(request.url.split("?")[0]):
            load.wasm_bytes += size
            if size:
                load.wasm_responses.append((request.url, response.all_headers()))

    context.on("requestfinished", finished)
    return finished


def visit(context, url, load, wait_offline=True):
    """Open ``url`` in a new page of ``context``; fill ``load``; return the page.

    Waits until the new-todo input is usable (the time is taken in the page,
    from navigation start), then, with ``wait_offline``, until the service
    worker has stored the offline shell, so everything the visit fetches counts.
    """
    page = context.new_page()
    page.goto(url, wait_until="commit")
    load.usable_ms = page.wait_for_function(
        USABLE, polling="raf", timeout=TIMEOUT_MS
    ).json_value()
    if wait_offline:
        page.wait_for_selector(
            "html[data-offline-ready=true]", state="attached", timeout=TIMEOUT_MS
        )
    page.wait_for_load_state("networkidle")
    return page


def cold_and_repeat(browser, url, **context_options):
    """A first visit to ``url`` in a fresh profile, then a second one to it."""
    context = browser.new_context(**context_options)
    try:
        cold, repeat = Load(), Load()
        listener = record(context, cold)
        visit(context, url, cold).close()
        context.remove_listener("requestfinished", listener)
        record(context, repeat)
        visit(context, url, repeat).close()
        return cold, repeat
    finally:
        context.close()
