"""Rates such as ``"300/s"`` or ``"50/h"``: ``Rate`` and ``parse_rate``."""

import re
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured

__all__ = ["Rate", "parse_rate"]

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


class Rate(NamedTuple):
    """``count`` events per ``period`` seconds."""

    count: int
    period: int

    def __str__(self):
        unit = {v: k for k, v in PERIODS.items()}[self.period]
        return f"{self.count}/{unit}"


def parse_rate(text, setting="TODOS_WRITE_RATE_LIMIT"):
    """Parse ``"<count>/<s|m|h|d>"`` into a Rate; None for an empty string.

    A value that is not a rate raises ImproperlyConfigured naming ``setting``.
    """
    if text is None or not str(text).strip():
        return None
    match = _RATE.match(str(text).lower())
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{setting}={text!r} is not a rate: write a positive count "
            "per second, minute, hour or day, such as '300/s' or "
            "'1000/m', or leave it empty for no limit."
        )
    return Rate(int(match.group(1)), PERIODS[match.group(2)[0]])
