"""Prometheus metrics, exposed at ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("callbridge_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("callbridge_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
TOKENS_ISSUED = Counter("callbridge_tokens_issued_total", "Tokens issued", ["kind"])
SIGNIN_FAILURES = Counter("callbridge_signin_failures_total", "Failed sign-ins")


def route_of(request: Request) -> str:
    """The route's template (``/login/{tenant}/...``), never the raw path, so labels stay few."""
    route = request.scope.get("route")
    return str(getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched")


async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    route = route_of(request)
    REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    LATENCY.labels(request.method, route).observe(time.perf_counter() - start)
    return response


def endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
