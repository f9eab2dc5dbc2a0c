"""Find the PostgreSQL and Redis servers the multi-process tests use.

Tests that need one skip, saying how to enable them, when it cannot be reached;
with TODOS_REQUIRE_SERVICES=1 (as .ci/run sets) they fail instead, because CI never
skips them. As a script, ``python tests/services.py postgres`` exits 0 when
PostgreSQL is reachable, 1 (with the reason) when it is not, and 2 when it is
required but unreachable.
"""

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULTS = {
    "postgres": ("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
    "redis": ("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
}


def service_url(name):
    """The URL configured (or defaulted) for service ``name``."""
    variable, default = DEFAULTS[name]
    return os.environ.get(variable) or default


def required():
    """True when unreachable services must fail the tests instead of skipping."""
    return os.environ.get("TODOS_REQUIRE_SERVICES") == "1"


def unavailable_reason(name):
    """None if service ``name`` answers, else a sentence saying how to enable it."""
    variable, _ = DEFAULTS[name]
    url = service_url(name)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            pass
    except OSError as exc:
        return (
            f"{name} is not reachable at {url} ({exc}); start it, or point "
            f"{variable} at one, to run this test"
        )
    return None


if __name__ == "__main__":
    reason = unavailable_reason(sys.argv[1])
    if reason is None:
        sys.exit(0)
    print(f"{'FAILED' if required() else 'skipped'}: {reason}", file=sys.stderr)
    sys.exit(2 if required() else 1)
