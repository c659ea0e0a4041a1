"""The portal's logs and metrics: one JSON line per request with its route template (never the query: a search
or a code), status and time; each error answer counted by status and code, with a warning for a 5xx; the same
counts in Prometheus's format."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from portal.app import create_app
from portal.observability import JsonLines, noted_error
from portal.settings import PortalSettings

PORTAL = "https://portal.example"


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = PortalSettings(redirect_base=PORTAL, session_secret="observability-secret", data_dir=tmp_path)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PORTAL) as http:
        yield http
    await app.state.portal.close()


async def test_each_request_is_one_line_and_counted(portal: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) \
        -> None:
    before = counted("portal_http_requests_total", method="GET", route="/api/directory", status="401")
    refused_before = counted("portal_errors_total", status="401", code="SignInRequired")
    with caplog.at_level(logging.INFO, logger="portal.requests"):
        r = await portal.get("/api/directory", params={"search": "secret-search-words"})
    assert r.status_code == 401
    assert counted("portal_http_requests_total", method="GET", route="/api/directory", status="401") == before + 1
    assert counted("portal_errors_total", status="401", code="SignInRequired") == refused_before + 1
    assert counted("portal_http_request_seconds_count", method="GET", route="/api/directory") >= 1
    [line] = [r for r in caplog.records if r.getMessage() == "request"]
    entry = json.loads(JsonLines().format(line))
    assert (entry["method"], entry["route"], entry["status"], entry["level"]) == ("GET", "/api/directory", 401, "info")
    assert entry["ms"] >= 0 and "secret-search-words" not in json.dumps(entry)


async def test_a_cross_site_post_and_an_unknown_address_are_counted_by_code(portal: httpx.AsyncClient) -> None:
    before = counted("portal_errors_total", status="403", code="CrossSiteRequest")
    r = await portal.post("/api/customers", json={"name": "x"}, headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 403
    assert counted("portal_errors_total", status="403", code="CrossSiteRequest") == before + 1
    missing = await portal.get("/nothing/here")
    assert missing.status_code == 404
    assert counted("portal_http_requests_total", method="GET", route="unmatched", status="404") >= 1


def test_a_5xx_is_a_warning_with_its_code(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="portal.requests"):
        noted_error(400, "InvalidRequest", "a person's mistake")
        noted_error(502, "DirectoryUnreachable", "The directory service could not be reached (refused).")
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert json.loads(JsonLines().format(warning))["code"] == "DirectoryUnreachable"
