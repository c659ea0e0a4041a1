"""Prometheus metrics, exposed at ``/metrics``: on a listener of their own (plain HTTP, loopback by default), or
on the HTTPS port when ``metrics_port`` is 0 (the demo), or nowhere unless ``metrics_enabled``."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as start_prometheus_listener
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callbridge.config import Settings

log = logging.getLogger("callbridge.metrics")

REQUESTS = Counter("callbridge_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("callbridge_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
TOKENS_ISSUED = Counter("callbridge_tokens_issued_total", "Tokens issued", ["kind"])
SIGNIN_FAILURES = Counter("callbridge_signin_failures_total", "Failed sign-ins")
CALLS_ENDED = Counter("callbridge_calls_ended_total", "Calls ended, by ACS end reason", ["code", "sub_code"])
TRUNK_UP = Gauge("callbridge_sip_trunk_up", "1 when the trunk answered the last OPTIONS ping", ["trunk"])
TRUNK_FAILOVERS = Counter("callbridge_sip_trunk_failovers_total",
                          "Calls a trunk failed (408, 5xx before ringing), tried on the next trunk", ["trunk"])
PHONE_LEGS = Counter("callbridge_phone_legs_total", "Phone legs opened", ["direction"])
MIXER_FAILURES = Counter("callbridge_mixer_failures_total", "Mixer actions that failed", ["action"])

# Gauges read at scrape time from the calling services alive in this process: (name, help, what a service reports)
LIVE_GAUGES = {
    "callbridge_calls_active": "Calls in progress on this node",
    "callbridge_agents_connected": "Call agents (and phone legs) attached to this node",
    "callbridge_meetings_active": "Meetings in progress on this node",
    "callbridge_mixed_participants": "Parties of group calls and meetings on this node",
}


class GaugeSource(Protocol):
    def gauges(self) -> dict[str, int]:
        """The value of each of ``LIVE_GAUGES`` now."""


class LiveGauges(Collector):
    """``LIVE_GAUGES``, summed over the live sources of this process: one calling service in production; the test
    suite runs several platforms in one process, each counted while it runs and none after it stopped."""

    def __init__(self) -> None:
        self._sources: weakref.WeakSet[GaugeSource] = weakref.WeakSet()

    def add(self, source: GaugeSource) -> None:
        self._sources.add(source)

    def remove(self, source: GaugeSource) -> None:
        self._sources.discard(source)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readings = [source.gauges() for source in list(self._sources)]
        for name, documentation in LIVE_GAUGES.items():
            yield GaugeMetricFamily(name, documentation, value=sum(r.get(name, 0) for r in readings))


LIVE = LiveGauges()
REGISTRY.register(LIVE)


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
        server, _ = start_prometheus_listener(settings.metrics_port, settings.metrics_host)
    except OSError as exc:  # another worker process holds the port
        log.warning("no metrics listener in this process", extra={"error": str(exc)})
        return None
    return server


def stop_listener(server: WSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
