"""Prometheus metrics, exposed at ``/metrics``: on a listener of their own (plain HTTP, loopback by default), or
on the HTTPS port when ``metrics_port`` is 0 (the demo), or nowhere unless ``metrics_enabled``."""

from __future__ import annotations

import logging
import time
from wsgiref.simple_server import WSGIServer

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callbridge.config import Settings

log = logging.getLogger("callbridge.metrics")

REQUESTS = Counter("callbridge_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("callbridge_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
TOKENS_ISSUED = Counter("callbridge_tokens_issued_total", "Tokens issued", ["kind"])
SIGNIN_FAILURES = Counter("callbridge_signin_failures_total", "Failed sign-ins")
CALLS_ACTIVE = Gauge("callbridge_calls_active", "Calls in progress on this node")
AGENTS_CONNECTED = Gauge("callbridge_agents_connected", "Call agents (and phone legs) attached to this node")
CALLS_ENDED = Counter("callbridge_calls_ended_total", "Calls ended, by ACS end reason", ["code", "sub_code"])
TRUNK_UP = Gauge("callbridge_sip_trunk_up", "1 when the trunk answered the last OPTIONS ping", ["trunk"])
TRUNK_FAILOVERS = Counter("callbridge_sip_trunk_failovers_total",
                          "Calls a trunk failed (408, 5xx before ringing), tried on the next trunk", ["trunk"])
PHONE_LEGS = Counter("callbridge_phone_legs_total", "Phone legs opened", ["direction"])
MEETINGS_ACTIVE = Gauge("callbridge_meetings_active", "Meetings in progress on this node")
MIXED_PARTICIPANTS = Gauge("callbridge_mixed_participants", "Parties of group calls and meetings on this node")
MIXER_FAILURES = Counter("callbridge_mixer_failures_total", "Mixer actions that failed", ["action"])


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status (a plain ASGI middleware: the
    request path stays as cheap as it can be)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched")
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - start)


def endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def start_listener(settings: Settings) -> WSGIServer | None:
    """The metrics listener of this process (a thread), when metrics are on and have a port of their own."""
    if not settings.metrics_enabled or settings.metrics_port == 0:
        return None
    try:
        server, _ = start_http_server(settings.metrics_port, settings.metrics_host)
    except OSError as exc:  # another worker process holds the port
        log.warning("no metrics listener in this process", extra={"error": str(exc)})
        return None
    return server


def stop_listener(server: WSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
