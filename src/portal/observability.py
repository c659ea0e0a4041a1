"""The portal's logs and metrics, as an operator of a web app expects them: one JSON object a line (or plain text
for a terminal), one line per request (method, route template, status, milliseconds: never the query, which may
carry a search or a code), a warning for each error the portal answers with a 5xx (the upstream that failed, in
the error's code), and Prometheus counters of requests, their latency and those errors, served on a listener of
their own when ``PORTAL_METRICS_PORT`` is set. The shapes are callbridge's (``callbridge.logs``,
``callbridge.metrics``), written again on purpose: the portal is the vendor's app and imports nothing of callbridge
(tests/unit/test_layers.py)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Histogram
from prometheus_client import start_http_server as start_prometheus_listener
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("portal.requests")
_PLAIN_RECORD = set(vars(logging.makeLogRecord({})))

REQUESTS = Counter("portal_http_requests_total", "Requests to the portal", ["method", "route", "status"])
LATENCY = Histogram("portal_http_request_seconds", "Time to answer a request", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ERRORS = Counter("portal_errors_total", "Errors the portal answered with, by status and code", ["status", "code"])


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        entry |= {k: v for k, v in vars(record).items() if k not in _PLAIN_RECORD and not k.startswith("_")}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logs(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def start_metrics_listener(host: str, port: int) -> WSGIServer | None:
    """``/metrics`` in Prometheus's text format on ``host:port`` (plain HTTP; loopback by default), in this process
    (a worker: the first of several to bind the port gets it)."""
    if not port:
        return None
    try:
        server, _ = start_prometheus_listener(port, host)
    except OSError as exc:
        log.warning("no metrics listener in this process", extra={"error": str(exc)})
        return None
    return server


def stop_metrics_listener(server: WSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def noted_error(status: int, code: str, message: str) -> None:
    """An error answer: counted, and a warning when it is the portal's or an upstream's fault (5xx)."""
    ERRORS.labels(str(status), code).inc()
    if status >= 500:
        log.warning("answered with an error", extra={"status": status, "code": code, "error": message})


class RequestLog:
    """Counts, times and logs every HTTP request by method, route template and status (plain ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched")
            took = time.perf_counter() - start
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(took)
            log.info("request", extra={"method": scope["method"], "route": template, "status": status,
                                       "ms": round(took * 1000, 1)})
