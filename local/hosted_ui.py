"""The Cognito Hosted UI of the local user pool: what ``https://<prefix>.auth.<region>.
amazoncognito.com`` answers on AWS, under ``/local/cognito`` on the gateway's port.

- ``GET /oauth2/authorize``: checks the app client, its callback URL and scopes, and the PKCE
  challenge method (S256 only, as Cognito), then sends the browser to ``/login``;
- ``GET|POST /login``: the sign-in form; the password is checked by the local pool (moto,
  ``USER_PASSWORD_AUTH``), and the browser returns to the callback URL with a one-time code
  (5 minutes) and the state;
- ``POST /oauth2/token``: ``authorization_code`` (the client, the redirect URI and the PKCE
  verifier must match what the code was issued for) and ``refresh_token``; answers ID, access
  and refresh tokens as Cognito's token endpoint does, signed with moto's pool key so the
  gateway's JWT authorizer and the WebSocket authorizer accept them. The access token carries
  the granted scopes (``openid email profile``) and, like Cognito's, no email;
- ``GET /oauth2/userInfo``: the user's attributes for an access token with the ``openid`` scope
  (Cognito refuses the user pool API's access tokens, which have none);
- ``GET /logout``: back to one of the client's sign-out URLs.

The app client's URLs, scopes and token lifetimes are the pool's (moto's
``DescribeUserPoolClient``), so the template decides them, as on AWS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from botocore.exceptions import ClientError
from moto.utilities.utils import load_resource

from local.aws import client

PREFIX = "/local/cognito"
CODE_SECONDS = 300
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class _Grant:
    """What a code or a refresh token stands for."""

    client_id: str
    username: str  # the pool's username (with email as username attribute, the user's sub)
    sub: str
    email: str
    scopes: tuple[str, ...]
    expires_at: float
    redirect_uri: str = ""
    challenge: str = ""


class HostedUi:
    """Serve with :meth:`routes`; ``base_url`` is what the dashboard's config calls the domain."""

    def __init__(
        self,
        *,
        base_url: str,
        endpoint_url: str,
        user_pool_id: str,
        issuer: str,
        username: Callable[[str], str] = lambda typed: typed,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.endpoint_url = endpoint_url
        self.user_pool_id = user_pool_id
        self.issuer = issuer
        self.username = username
        self.clock = clock
        # Tests shorten tokens' lives to watch the dashboard refresh; None: the client's own.
        self.token_seconds: int | None = None
        # Grants answered by the token endpoint, by grant type.
        self.grants: Counter[str] = Counter()
        self._codes: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        key = load_resource("cognitoidp/resources/jwks-private.json")
        self._kid = str(key["kid"])
        self._signing_key = jwt.PyJWK(key).key

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/oauth2/userInfo"

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get(f"{PREFIX}/oauth2/authorize", self.authorize),
            web.get(f"{PREFIX}/login", self.login_page),
            web.post(f"{PREFIX}/login", self.login),
            web.post(f"{PREFIX}/oauth2/token", self.token),
            web.get(f"{PREFIX}/oauth2/userInfo", self.userinfo),
            web.options(f"{PREFIX}/oauth2/token", self.preflight),
            web.options(f"{PREFIX}/oauth2/userInfo", self.preflight),
            web.get(f"{PREFIX}/logout", self.logout),
        ]

    # ---- the pool

    @property
    def _cognito(self) -> Any:
        return client("cognito-idp", self.endpoint_url)

    def _client(self, client_id: str) -> dict[str, Any] | None:
        try:
            described = self._cognito.describe_user_pool_client(
                UserPoolId=self.user_pool_id, ClientId=client_id
            )
        except ClientError:
            return None
        return dict(described["UserPoolClient"])

    def _lifetime(self, app_client: Mapping[str, Any], kind: str) -> int:
        if self.token_seconds is not None:
            return self.token_seconds
        units = app_client.get("TokenValidityUnits", {}).get(kind, "hours")
        value = app_client.get(f"{kind[0].upper()}{kind[1:]}Validity", 1)
        return int(value) * _UNITS.get(units, 3600)

    # ---- /oauth2/authorize and /login

    async def authorize(self, request: web.Request) -> web.Response:
        checked = await asyncio.to_thread(self._check_authorize, request.query)
        if isinstance(checked, web.Response):
            return checked
        raise web.HTTPFound(f"{self.base_url}/login?{request.query_string}")

    def _check_authorize(
        self, query: Mapping[str, str]
    ) -> web.Response | tuple[dict[str, Any], tuple[str, ...]]:
        """The client and its granted scopes, or the answer Cognito gives a bad request: an
        error page while the redirect URI is not trusted, an error sent back to it after."""
        app_client = self._client(query.get("client_id", ""))
        if app_client is None:
            return _page(400, "Error", "<p>invalid_client: no such app client.</p>")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in app_client.get("CallbackURLs", []):
            return _page(
                400, "Error", "<p>redirect_mismatch: not a callback URL of the client.</p>"
            )

        def back(error: str) -> web.Response:
            state = {"state": query["state"]} if "state" in query else {}
            return _redirect(f"{redirect_uri}?{urlencode({'error': error, **state})}")

        if query.get("response_type") != "code" or "code" not in app_client.get(
            "AllowedOAuthFlows", []
        ):
            return back("unsupported_response_type")
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            return back("invalid_request")
        allowed = app_client.get("AllowedOAuthScopes", [])
        scopes = tuple(query.get("scope", "").split()) or tuple(allowed)
        if not set(scopes) <= set(allowed):
            return back("invalid_scope")
        return app_client, scopes

    async def login_page(self, request: web.Request) -> web.Response:
        checked = await asyncio.to_thread(self._check_authorize, request.query)
        if isinstance(checked, web.Response):
            return checked
        return _login_form(request.query_string, "")

    async def login(self, request: web.Request) -> web.Response:
        checked = await asyncio.to_thread(self._check_authorize, request.query)
        if isinstance(checked, web.Response):
            return checked
        app_client, scopes = checked
        form = await request.post()
        typed, password = str(form.get("username", "")), str(form.get("password", ""))
        user = await asyncio.to_thread(self._sign_in, app_client["ClientId"], typed, password)
        if user is None:
            return _login_form(request.query_string, "Incorrect username or password.", 400)
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Grant(
            client_id=app_client["ClientId"],
            username=user["username"],
            sub=user["sub"],
            email=user["email"],
            scopes=scopes,
            expires_at=self.clock() + CODE_SECONDS,
            redirect_uri=request.query["redirect_uri"],
            challenge=request.query.get("code_challenge", ""),
        )
        answer = {
            "code": code,
            **({"state": request.query["state"]} if "state" in request.query else {}),
        }
        raise web.HTTPFound(f"{request.query['redirect_uri']}?{urlencode(answer)}")

    def _sign_in(self, client_id: str, typed: str, password: str) -> dict[str, str] | None:
        """The user's pool username, sub and email when the password is right."""
        username = self.username(typed.strip())
        try:
            self._cognito.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NotAuthorizedException", "UserNotFoundException"):
                return None
            raise
        return self._user(username)

    def _user(self, username: str) -> dict[str, str] | None:
        try:
            user = self._cognito.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "UserNotFoundException":
                return None
            raise
        attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        return {
            "username": str(user["Username"]),
            "sub": attributes.get("sub", str(user["Username"])),
            "email": attributes.get("email", ""),
            "email_verified": attributes.get("email_verified", "false"),
        }

    # ---- /oauth2/token

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {name: str(value) for name, value in form.items()}
        answer = await asyncio.to_thread(self._token, fields)
        status = 200 if "access_token" in answer else 400
        response = web.json_response(answer, status=status, headers={"Cache-Control": "no-store"})
        _allow_origin(request, response)
        return response

    def _token(self, fields: Mapping[str, str]) -> dict[str, Any]:
        app_client = self._client(fields.get("client_id", ""))
        if app_client is None:
            return {"error": "invalid_client"}
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._codes.pop(fields.get("code", ""), None)
            if (
                grant is None
                or grant.expires_at < self.clock()
                or grant.client_id != app_client["ClientId"]
                or grant.redirect_uri != fields.get("redirect_uri")
                or (grant.challenge and _s256(fields.get("code_verifier", "")) != grant.challenge)
            ):
                return {"error": "invalid_grant"}
            refresh_token = secrets.token_urlsafe(48)
            self._refresh_tokens[refresh_token] = _Grant(
                client_id=grant.client_id,
                username=grant.username,
                sub=grant.sub,
                email=grant.email,
                scopes=grant.scopes,
                expires_at=self.clock() + self._lifetime(app_client, "refreshToken"),
            )
            self.grants[grant_type] += 1
            return {**self._tokens(app_client, grant), "refresh_token": refresh_token}
        if grant_type == "refresh_token":
            grant = self._refresh_tokens.get(fields.get("refresh_token", ""))
            if grant is None or grant.expires_at < self.clock():
                return {"error": "invalid_grant"}
            if grant.client_id != app_client["ClientId"] or self._user(grant.username) is None:
                return {"error": "invalid_grant"}
            self.grants[grant_type] += 1
            # Cognito does not rotate refresh tokens: the answer has none.
            return self._tokens(app_client, grant)
        return {"error": "unsupported_grant_type"}

    def _tokens(self, app_client: Mapping[str, Any], grant: _Grant) -> dict[str, Any]:
        now = int(self.clock())
        access_seconds = self._lifetime(app_client, "accessToken")
        common = {
            "sub": grant.sub,
            "iss": self.issuer,
            "auth_time": now,
            "iat": now,
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }
        id_claims = {
            **common,
            "aud": grant.client_id,
            "token_use": "id",
            "cognito:username": grant.username,
            "email": grant.email,
            "email_verified": True,
            "exp": now + self._lifetime(app_client, "idToken"),
            "jti": str(uuid.uuid4()),
        }
        access_claims = {
            **common,
            "client_id": grant.client_id,
            "token_use": "access",
            "scope": " ".join(grant.scopes),
            "username": grant.username,
            "exp": now + access_seconds,
            "jti": str(uuid.uuid4()),
        }
        return {
            "id_token": self._sign(id_claims),
            "access_token": self._sign(access_claims),
            "expires_in": access_seconds,
            "token_type": "Bearer",
        }

    def _sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            dict(claims), self._signing_key, algorithm="RS256", headers={"kid": self._kid}
        )

    # ---- /oauth2/userInfo

    async def userinfo(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = self._access_claims(token.strip()) if scheme.lower() == "bearer" else None
        if claims is None or "openid" not in str(claims.get("scope", "")).split():
            response = web.json_response(
                {"error": "invalid_token", "error_description": "Access token is not valid"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        else:
            user = await asyncio.to_thread(self._user, str(claims.get("username", "")))
            if user is None:
                response = web.json_response({"error": "invalid_token"}, status=401)
            else:
                response = web.json_response(
                    {
                        "sub": user["sub"],
                        "email": user["email"],
                        "email_verified": user["email_verified"],
                        "username": user["username"],
                    }
                )
        _allow_origin(request, response)
        return response

    def _access_claims(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        return claims if claims.get("token_use") == "access" else None

    async def preflight(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        _allow_origin(request, response)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    # ---- /logout

    async def logout(self, request: web.Request) -> web.Response:
        app_client = await asyncio.to_thread(self._client, request.query.get("client_id", ""))
        if app_client is None:
            return _page(400, "Error", "<p>invalid_client: no such app client.</p>")
        logout_uri = request.query.get("logout_uri", "")
        if logout_uri not in app_client.get("LogoutURLs", []):
            return _page(400, "Error", "<p>invalid_request: not a sign-out URL of the client.</p>")
        raise web.HTTPFound(logout_uri)


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _allow_origin(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def _page(status: int, title: str, body: str) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/html",
        text=(
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
        ),
    )


def _login_form(query_string: str, error: str, status: int = 200) -> web.Response:
    action = html.escape(f"{PREFIX}/login?{query_string}", quote=True)
    message = f"<p role='alert' class='error'>{html.escape(error)}</p>" if error else ""
    return _page(
        status,
        "Signin",
        "<main><h1>Sign in with your email and password</h1>"
        f"<p>Local stand-in for the Cognito Hosted UI</p>{message}"
        f"<form method='post' action='{action}'>"
        "<label for='signInFormUsername'>Email</label>"
        "<input id='signInFormUsername' name='username' type='text' autocomplete='username' "
        "required><br>"
        "<label for='signInFormPassword'>Password</label>"
        "<input id='signInFormPassword' name='password' type='password' "
        "autocomplete='current-password' required><br>"
        "<button type='submit' name='signInSubmitButton'>Sign in</button>"
        "</form></main>",
    )
