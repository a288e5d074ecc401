"""Signing a command-line tool in through the Cognito Hosted UI, as AWS's CLIs sign in: the
authorization code grant with PKCE (S256) and a loopback redirect (RFC 8252).

The tool listens on ``http://localhost:<port>/callback`` (a callback URL of the stack's app
client: template.yaml's ``CliCallbackPort``, the dashboard's ``config.js`` names it), opens or
prints the Hosted UI's authorize URL, and waits for the browser to come back there with the code
and the state it sent. It trades the code and its PKCE verifier for tokens at the Hosted UI's
``/oauth2/token`` and keeps the refresh token for the run: :meth:`HostedUiSession.id_token`
answers a fresh ID token when the one it holds is about to expire. Nothing is written to disk.

The browser must run on the machine the tool runs on (the redirect goes to its ``localhost``);
over SSH forward the port first (``ssh -L <port>:localhost:<port> host``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt

# A token with less life left than this is refreshed before it is handed out.
REFRESH_MARGIN_SECONDS = 300


class SignInError(Exception):
    """The sign-in did not finish: refused, abandoned, or the callback port is taken."""


class TokenSource(Protocol):
    def id_token(self) -> str: ...


@dataclass(frozen=True)
class StaticToken:
    """A token given on the command line (``--token``): used as it is, never refreshed."""

    token: str

    def id_token(self) -> str:
        return self.token


@dataclass(frozen=True)
class HostedUiClient:
    """The stack's app client as its dashboard's ``config.js`` names it."""

    domain: str  # "<prefix>.auth.<region>.amazoncognito.com", or a whole URL (the stand-in)
    client_id: str
    redirect_uri: str  # http://localhost:<port>/callback
    scopes: tuple[str, ...] = ("openid", "email", "profile")

    @classmethod
    def from_config(cls, cognito: Mapping[str, Any]) -> HostedUiClient:
        missing = [k for k in ("domain", "clientId", "cliRedirectUri") if not cognito.get(k)]
        if missing:
            raise SignInError(
                f"the dashboard's config.js has no cognito.{', cognito.'.join(missing)}: "
                "deploy the current template (make deploy), or pass --token"
            )
        return cls(
            domain=str(cognito["domain"]),
            client_id=str(cognito["clientId"]),
            redirect_uri=str(cognito["cliRedirectUri"]),
            scopes=tuple(cognito.get("scopes") or cls.scopes),
        )

    def url(self, path: str) -> str:
        domain = self.domain.rstrip("/")
        return f"{domain if '://' in domain else f'https://{domain}'}{path}"


class HostedUiSession:
    """Tokens from the Hosted UI, refreshed with the refresh token as they near expiry."""

    def __init__(
        self,
        client: HostedUiClient,
        tokens: Mapping[str, Any],
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.http = http
        self.clock = clock
        self.refresh_token = str(tokens["refresh_token"])
        self.refreshes = 0
        self._keep(tokens)

    def _keep(self, tokens: Mapping[str, Any]) -> None:
        self._id_token = str(tokens["id_token"])
        claims = jwt.decode(self._id_token, options={"verify_signature": False})
        self.expires_at = float(claims["exp"])

    def id_token(self) -> str:
        if self.expires_at - self.clock() < REFRESH_MARGIN_SECONDS:
            self.refresh()
        return self._id_token

    def refresh(self) -> None:
        answer = self.http.post(
            self.client.url("/oauth2/token"),
            data={
                "grant_type": "refresh_token",
                "client_id": self.client.client_id,
                "refresh_token": self.refresh_token,
            },
        )
        if answer.status_code != 200:
            raise SignInError(f"the refresh token was refused ({answer.text.strip()[:200]})")
        self._keep(answer.json())  # Cognito keeps the refresh token: the answer has none
        self.refreshes += 1


def sign_in(
    client: HostedUiClient,
    open_url: Callable[[str], object],
    http: httpx.Client,
    timeout: float = 300,
) -> HostedUiSession:
    """Send the user through the Hosted UI (``open_url`` gets the authorize URL) and wait up to
    ``timeout`` seconds for the code on the loopback callback."""
    verifier = secrets.token_urlsafe(64)  # 86 characters; PKCE allows 43-128
    state = secrets.token_urlsafe(24)
    with _Callback(client.redirect_uri, state) as callback:
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": " ".join(client.scopes),
            "state": state,
            "code_challenge_method": "S256",
            "code_challenge": _s256(verifier),
        }
        open_url(f"{client.url('/oauth2/authorize')}?{urlencode(query)}")
        answer = callback.wait(timeout)
    if "error" in answer:
        raise SignInError(f"the Hosted UI answered {answer['error']}")
    tokens = http.post(
        client.url("/oauth2/token"),
        data={
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "code": answer["code"],
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
    )
    if tokens.status_code != 200:
        raise SignInError(f"the code was refused ({tokens.text.strip()[:200]})")
    return HostedUiSession(client, tokens.json(), http)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _Callback:
    """The loopback listener: one answer carrying our state, then it stops. Requests without
    it (a favicon, a stale tab, a forged redirect) are refused and the wait goes on."""

    def __init__(self, redirect_uri: str, state: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
            raise SignInError(f"{redirect_uri} is not a loopback callback URL")
        self.path = parts.path or "/"
        self.port = parts.port or 80
        self.state = state
        self.answer: dict[str, str] | None = None
        self._done = threading.Event()
        try:
            self.server = HTTPServer(("127.0.0.1", self.port), self._handler())
        except OSError as exc:
            raise SignInError(
                f"cannot listen on localhost:{self.port} for the sign-in's answer ({exc}); "
                "free the port, or pass --token"
            ) from exc
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self) -> _Callback:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self._done.wait(timeout):
            raise SignInError(f"no sign-in came back within {timeout:.0f} s")
        assert self.answer is not None
        return self.answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path != outer.path or query.get("state") != outer.state:
                    self._page(400, "This is not the sign-in this terminal is waiting for.")
                    return
                if "error" not in query and not query.get("code"):
                    self._page(400, "The answer carries no code.")
                    return
                if outer._done.is_set():
                    self._page(400, "This sign-in has already finished.")
                    return
                outer.answer = query
                outer._done.set()
                if "error" in query:
                    self._page(400, f"Sign-in failed: {query['error']}.")
                else:
                    self._page(200, "Signed in. You can close this tab and return to the terminal.")

            def _page(self, status: int, text: str) -> None:
                body = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    f"<title>sniper</title></head><body><p>{html.escape(text)}</p></body></html>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query carries the code: not on the terminal

        return Handler
