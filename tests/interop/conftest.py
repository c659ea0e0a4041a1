"""Helpers for the interop tests: a browser stand-in that fills callbridge's sign-in and consent pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest

from tests.conftest import Demo
from tests.interop.node_rp import NodeRP


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)  # value -> name of submit buttons with a name


class _FormParser(HTMLParser):
    """The first <form> of a page: its action, hidden and text inputs, and named submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.form: Form | None = None
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form is None:
            self.form = Form(a.get("action", ""), a.get("method", "get").lower())
        elif self.form is not None and not self._done:
            if tag == "input" and a.get("name"):
                self.form.fields[a["name"]] = a.get("value", "")
            elif tag == "button" and a.get("name"):
                self.form.buttons[a.get("value", "")] = a["name"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.form is not None:
            self._done = True


def parse_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    assert parser.form is not None, f"no form on the page:\n{html}"
    return parser.form


class Browser:
    """Drives the authorize endpoint the way a person in a browser would: follows the forms, keeps cookies,
    and stops at the first redirect that leaves callbridge (the app's redirect URI)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.http = demo.client()
        self.pages: list[str] = []  # titles of the pages seen, in order

    def close(self) -> None:
        self.http.close()

    def open(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def submit(self, page: httpx.Response, **values: str) -> httpx.Response:
        form = parse_form(page.text)
        data = dict(form.fields)
        if "button" in values:
            value = values.pop("button")
            data[form.buttons[value]] = value
        data.update(values)
        return self.http.post(urljoin(str(page.url), form.action), data=data)

    def sign_in(self, auth_uri: str, username: str, password: str, *, consent: bool = True) -> dict[str, str]:
        """Sign in unless the session cookie is still good, accept the consent page if one comes, and return
        the query of the final redirect."""
        page = self.open(auth_uri)
        if page.status_code == 200:  # otherwise the session cookie signed in already (single sign-on)
            self.pages.append(_title(page.text))
            page = self.submit(page, username=username, password=password)
        if page.status_code == 200 and consent:
            self.pages.append(_title(page.text))
            page = self.submit(page, button="consent")
        assert page.status_code == 302, f"{page.status_code}: {page.text}"
        location = page.headers["location"]
        assert not location.startswith(self.demo.base_url), location
        return dict(parse_qsl(urlsplit(location).query))


def _title(html: str) -> str:
    start = html.find("<h1>")
    return html[start + 4:html.find("</h1>", start)] if start >= 0 else ""


@pytest.fixture
def browser(demo: Demo) -> Iterator[Browser]:
    b = Browser(demo)
    yield b
    b.close()


@pytest.fixture
def node_rp(demo: Demo) -> Iterator[NodeRP]:
    """The Node relying parties (tests/interop/node/rp.js) in a child process of their own."""
    rp = NodeRP(demo)
    yield rp
    rp.close()
