"""eBay's OAuth: the consent page (authorization code grant) and the token endpoint."""

from __future__ import annotations

import base64
import binascii
import html
from typing import Any

from aiohttp import web
from yarl import URL

from local.ebay_sim.config import API_SCOPE, AUTH_CODE_TTL_SECONDS
from local.ebay_sim.http_common import sim_of
from local.ebay_sim.simulator import AccessToken, GrantError, Simulator

routes = web.RouteTableDef()

_ECHOED = ("client_id", "redirect_uri", "response_type", "scope", "state", "prompt")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;color:#111}}
h1{{font-size:1.4rem}} label{{display:block;margin:.8rem 0 .2rem}}
input[type=text],input[type=password]{{width:100%;padding:.4rem}}
.buttons{{margin-top:1.2rem;display:flex;gap:.6rem}} .error{{color:#b00}}
code{{word-break:break-all}}
</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = _PAGE.format(title=html.escape(title), body=body)
    return web.Response(text=text, status=status, content_type="text/html")


def _invalid_request_page(reason: str) -> web.Response:
    return _page("eBay sign-in error", f'<p class="error">{html.escape(reason)}</p>', status=400)


def _check_app(sim: Simulator, params: Any) -> str | None:
    if params.get("client_id") != sim.config.client_id:
        return "The client_id is not a known application keyset."
    if params.get("redirect_uri") != sim.config.ru_name:
        return "The redirect_uri must be the application's RuName."
    if params.get("response_type", "code") != "code":
        return "The response_type must be code."
    return None


def _consent_form(params: Any, error: str | None = None) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(str(params[name]))}">'
        for name in _ECHOED
        if name in params
    )
    scopes = "".join(
        f"<li><code>{html.escape(s)}</code></li>" for s in str(params.get("scope", "")).split()
    )
    notice = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return f"""{notice}<p>An application wants access to your eBay account.</p>
<ul>{scopes}</ul>
<form method="post" action="/oauth2/authorize">{hidden}
<label for="username">eBay username</label>
<input type="text" id="username" name="username" autocomplete="username">
<label for="password">Password (any)</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<div class="buttons">
<button type="submit" name="approve" value="yes">Agree</button>
<button type="submit" name="approve" value="no">Not now</button>
</div></form>"""


@routes.get("/oauth2/authorize")
async def authorize_page(request: web.Request) -> web.Response:
    problem = _check_app(sim_of(request), request.query)
    if problem:
        return _invalid_request_page(problem)
    return _page("Sign in to eBay (simulated)", _consent_form(request.query))


@routes.post("/oauth2/authorize")
async def authorize_submit(request: web.Request) -> web.Response:
    sim = sim_of(request)
    form = await request.post()
    problem = _check_app(sim, form)
    if problem:
        return _invalid_request_page(problem)
    state = form.get("state")
    extra = {"state": str(state)} if isinstance(state, str) and state else {}
    if form.get("approve") != "yes":
        target = URL(sim.config.decline_url).update_query({"error": "access_denied", **extra})
        raise web.HTTPFound(target)
    username = str(form.get("username", "")).strip()
    if not username:
        return _page(
            "Sign in to eBay (simulated)",
            _consent_form(form, "Enter a username to sign in."),
            status=400,
        )
    scopes = frozenset(str(form.get("scope", "")).split()) or frozenset({API_SCOPE})
    code = sim.issue_code(username, scopes)
    query = {**extra, "code": code, "expires_in": str(AUTH_CODE_TTL_SECONDS)}
    raise web.HTTPFound(URL(sim.config.accept_url).update_query(query))


def _token_error(exc: GrantError) -> web.Response:
    return web.json_response(
        {"error": exc.error, "error_description": exc.description}, status=exc.status
    )


def _client_ok(sim: Simulator, header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, _, secret = decoded.partition(":")
    return client_id == sim.config.client_id and secret == sim.config.client_secret


def _access_json(token: AccessToken, sim: Simulator) -> dict[str, Any]:
    return {
        "access_token": token.token,
        "expires_in": sim.config.access_token_ttl,
        "token_type": "User Access Token" if token.username else "Application Access Token",
    }


@routes.post("/identity/v1/oauth2/token")
async def token(request: web.Request) -> web.Response:
    sim = sim_of(request)
    if not _client_ok(sim, request.headers.get("Authorization", "")):
        return _token_error(GrantError("invalid_client", "client authentication failed", 401))
    form = await request.post()
    grant_type = form.get("grant_type")
    scope_text = form.get("scope")
    scopes = frozenset(str(scope_text).split()) if scope_text else None
    try:
        if grant_type == "authorization_code":
            code, redirect_uri = form.get("code"), form.get("redirect_uri")
            if not isinstance(code, str) or not isinstance(redirect_uri, str):
                raise GrantError(
                    "invalid_request", "request is missing a required parameter or malformed."
                )
            access, refresh = sim.exchange_code(code, redirect_uri)
            body = _access_json(access, sim)
            body["refresh_token"] = refresh.token
            body["refresh_token_expires_in"] = sim.config.refresh_token_ttl
            return web.json_response(body)
        if grant_type == "refresh_token":
            refresh_token = form.get("refresh_token")
            if not isinstance(refresh_token, str):
                raise GrantError(
                    "invalid_request", "request is missing a required parameter or malformed."
                )
            return web.json_response(_access_json(sim.refresh(refresh_token, scopes), sim))
        if grant_type == "client_credentials":
            return web.json_response(_access_json(sim.client_credentials(scopes), sim))
        raise GrantError(
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        )
    except GrantError as exc:
        return _token_error(exc)
