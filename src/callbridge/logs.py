"""Structured logs: one JSON object per line (or plain text for a terminal), and a throttle for lines that others
can make the server write at will."""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Throttled:
    """A logger for what repeats at the will of others (a flood of unlisted INVITEs, malformed datagrams, a peer
    that will not read): at most one record per key every ``interval_s``; the first record after others were held
    back carries their count (``suppressed``). Keys are the kinds of event, not their sources, so a flood from
    many addresses stays one line a minute; only the ``max_keys`` most recent keys are remembered.

    ``clock`` is monotonic seconds (tests give a fake one).
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 256) -> None:
        self.logger, self.interval_s, self.clock, self.max_keys = logger, interval_s, clock, max_keys
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (when logged, held back since)

    def _due(self, key: str) -> int | None:
        """How many were held back since the last record of ``key`` if one is due now, else None (one more)."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return None
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return last[1] if last is not None else 0

    def log(self, level: int, message: str, *, key: str | None = None, exc_info: bool = False,
            extra: dict[str, Any] | None = None) -> bool:
        """Log ``message`` unless its key (the message itself by default) logged within the interval; whether
        it did."""
        suppressed = self._due(key or message)
        if suppressed is None:
            return False
        fields = dict(extra or {})
        if suppressed:
            fields["suppressed"] = suppressed
        self.logger.log(level, message, exc_info=exc_info, extra=fields)
        return True

    def warning(self, message: str, **kwargs: Any) -> bool:
        return self.log(logging.WARNING, message, **kwargs)

    def error(self, message: str, **kwargs: Any) -> bool:
        return self.log(logging.ERROR, message, **kwargs)

    def exception(self, message: str, **kwargs: Any) -> bool:
        """A bug's traceback (call from an ``except`` block), the first of each interval only."""
        return self.log(logging.ERROR, message, exc_info=True, **kwargs)
