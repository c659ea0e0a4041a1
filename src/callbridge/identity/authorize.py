"""The authorize endpoint's request: validated once, carried through the sign-in and consent pages, and
answered with a code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.redirect_uris import redirect_uri_registered
from callbridge.directory.values import is_guid
from callbridge.identity import errors
from callbridge.identity.grants import parse_scope_param
from callbridge.identity.minting import token_hash
from callbridge.identity.pkce import valid_challenge
from callbridge.identity.scopes import ScopeRequest
from callbridge.store.models import AppRegistration, AuthorizationCode, User

RESPONSE_MODES = ("query", "form_post", "fragment")
# The response types served (and so the discovery document's ``response_types_supported``): the code flow, the
# implicit flow's ID token and the hybrid flow (OpenID Connect Core 3.1, 3.2, 3.3). The access token is never
# handed out at the authorize endpoint.
RESPONSE_TYPES = {"code": frozenset({"code"}), "id_token": frozenset({"id_token"}),
                  "code id_token": frozenset({"code", "id_token"})}


class PageError(Exception):
    """An error that must not be redirected (unknown client, unregistered redirect URI): shown as a page."""

    def __init__(self, title: str, message: str, aadsts: int) -> None:
        super().__init__(message)
        self.title = title
        self.aadsts = aadsts


@dataclass(frozen=True)
class AuthorizeRequest:
    app: AppRegistration
    redirect_uri: str
    raw_scope: str
    scope: ScopeRequest
    state: str | None
    nonce: str | None
    code_challenge: str | None
    response_mode: str
    prompt: str | None
    login_hint: str | None
    response_type: frozenset[str] = RESPONSE_TYPES["code"]

    def redirect(self, params: dict[str, str]) -> str:
        if self.state is not None:
            params = {**params, "state": self.state}
        sep = "#" if self.response_mode == "fragment" else ("&" if "?" in self.redirect_uri else "?")
        return f"{self.redirect_uri}{sep}{urlencode(params)}"

    def error_redirect(self, exc: errors.OAuthError) -> str:
        body = exc.body()
        return self.redirect({"error": exc.error, "error_description": body["error_description"]})


async def parse_authorize(s: AsyncSession, params: dict[str, str]) -> AuthorizeRequest:
    client_id = params.get("client_id", "")
    app = await s.get(AppRegistration, client_id.lower()) if is_guid(client_id) else None
    if app is None:
        raise PageError("Application not found",
                        f"Application with identifier '{client_id}' was not found in the directory.", 700016)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri_registered(redirect_uri, app.redirect_uris):
        raise PageError("Redirect URI mismatch",
                        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
                        f"URIs configured for the application '{app.client_id}'.", 50011)
    response_type = _response_type(params.get("response_type"))
    mode = params.get("response_mode") or _default_mode(response_type)
    partial = AuthorizeRequest(app, redirect_uri, "", ScopeRequest("", frozenset(), frozenset()),
                               params.get("state"), params.get("nonce"), None,
                               mode if mode in RESPONSE_MODES else "query", params.get("prompt"),
                               params.get("login_hint"), response_type or RESPONSE_TYPES["code"])
    try:
        return _complete(partial, params)
    except errors.OAuthError as exc:
        raise RedirectableError(partial, exc) from None


class RedirectableError(Exception):
    def __init__(self, request: AuthorizeRequest, error: errors.OAuthError) -> None:
        super().__init__(error.description)
        self.request = request
        self.error = error


def _response_type(raw: str | None) -> frozenset[str] | None:
    """The served response type named by ``raw`` (its words in any order), or None."""
    words = frozenset((raw or "").split())
    return next((served for served in RESPONSE_TYPES.values() if served == words), None)


def _default_mode(response_type: frozenset[str] | None) -> str:
    return "fragment" if response_type is not None and "id_token" in response_type else "query"


def _complete(partial: AuthorizeRequest, params: dict[str, str]) -> AuthorizeRequest:
    if _response_type(params.get("response_type")) is None:
        raise errors.OAuthError("unsupported_response_type",
                                "The provided value for the input parameter 'response_type' is not allowed. "
                                f"Allowed values: {', '.join(RESPONSE_TYPES)}.", 900144)
    if partial.response_mode != (params.get("response_mode") or _default_mode(partial.response_type)):
        raise errors.invalid_request("The provided value for 'response_mode' is not valid.", 900144)
    scope = parse_scope_param(params.get("scope"))
    if scope.default is False and not scope.permissions and not scope.oidc:
        raise errors.invalid_request("The request must contain the parameter 'scope'.", 900144)
    if "id_token" in partial.response_type:
        _check_id_token_request(partial, scope)
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None:
        if method != "S256" or not valid_challenge(challenge):
            raise errors.invalid_request("The code_challenge_method must be 'S256' and the code_challenge a "
                                         "43-character base64url value.", 501491)
    elif partial.app.allow_public_client and not partial.app.secrets:
        raise errors.invalid_request("Proof Key for Code Exchange is required for public clients: send "
                                     "code_challenge with code_challenge_method S256.", 9002325)
    return AuthorizeRequest(partial.app, partial.redirect_uri, params.get("scope", ""), scope, partial.state,
                            partial.nonce, challenge, partial.response_mode, partial.prompt, partial.login_hint,
                            partial.response_type)


def _check_id_token_request(partial: AuthorizeRequest, scope: ScopeRequest) -> None:
    """An ID token from the authorize endpoint: signed in with ``openid``, bound to a ``nonce`` (OpenID Connect
    Core 3.2.2.1), and never in a query string (it would stay in logs and the browser's history)."""
    if "openid" not in scope.oidc:
        raise errors.OAuthError("invalid_scope", "The provided request must include an 'openid' scope for a "
                                "response_type with id_token.", 70011)
    if not partial.nonce:
        raise errors.invalid_request("The request must contain the parameter 'nonce' for a response_type with "
                                     "id_token.", 90014)
    if partial.response_mode == "query":
        raise errors.invalid_request("The response_mode 'query' is not allowed for a response_type with id_token: "
                                     "use form_post or fragment.", 900144)


def new_code(s: AsyncSession, request: AuthorizeRequest, user: User, auth_time: datetime, now: datetime,
             lifetime_s: int) -> str:
    value = secrets.token_urlsafe(48)
    s.add(AuthorizationCode(
        code_hash=token_hash(value), client_id=request.app.client_id, tenant_id=user.tenant_id, user_id=user.id,
        redirect_uri=request.redirect_uri, scopes=request.raw_scope, nonce=request.nonce,
        code_challenge=request.code_challenge, auth_time=auth_time, expires_at=now + timedelta(seconds=lifetime_s),
    ))
    return value
