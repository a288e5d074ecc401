"""The whole backend in one process: ``LocalCloud`` wires moto, the template, the eBay simulator,
the Lambda runtime and the HTTP gateway together.

Ports: the gateway (REST API, ``/local/...``, docs, dashboard) on ``port``, the eBay simulator
on ``port + 1`` and moto on ``port + 2``; with ``port=0`` each gets a free port instead.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from botocore.exceptions import ClientError

from local.aws import FAKE_CREDENTIALS, MotoHandle, Provisioned, client, provision, start_moto
from local.ebay_sim import SimConfig, Simulator, start_simulator
from local.email_sink import LOCAL_SERVER_TOKEN, POSTMARK_PREFIX, EmailSink
from local.hosted_dashboard import HostedDashboard, deploy_script
from local.hosted_ui import PREFIX as HOSTED_UI_PREFIX
from local.hosted_ui import HostedUi
from local.http_gateway import (
    STATIC_DIR,
    HttpGateway,
    answer_parse_errors_as_api_gateway,
    build_app,
    openapi_document,
)
from local.lambda_api import RuntimeInvoker, lambda_routes
from local.lambda_runtime import EventInvoker, LambdaRuntime, new_containers
from local.scheduler import LocalScheduler
from local.stream_pump import Checkpoints, StreamPump
from local.template import REPO_ROOT, TEMPLATE_PATH, Template
from local.websocket_gateway import WebSocketGateway, build_websocket_app, websocket_api

log = logging.getLogger("local.stack")

DASHBOARD_DIR = REPO_ROOT / "dashboard"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "Demo-Sniper-2024"
DEMO_EBAY_USER = "demo_ebay_buyer"
# The app keyset the simulator accepts and the stack stores in EbayAppSecret.
APP_CLIENT_ID = "SimSnipe-Sniper-PRD-0a1b2c3d4-e5f6a7b8"
APP_CLIENT_SECRET = "PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b"
APP_RU_NAME = "Sim_Sniper-SimSnipe-Sniper-abcdefgh"
# eBay's Marketplace Account Deletion notifications (rest/marketplace_deletion.py).
ACCOUNT_DELETION_PATH = "/notifications/marketplace-account-deletion"
VERIFICATION_TOKEN_PARAMETER = "ebay-verification-token"


class PortInUseError(OSError):
    """A port the stack needs is taken."""

    def __init__(self, port: int, role: str) -> None:
        super().__init__(f"port {port} is already in use ({role})")
        self.port = port
        self.role = role


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


# What Cognito counts as a symbol (its password policy's RequireSymbols); a space counts too,
# except at either end.
COGNITO_SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")


def _has_symbol(password: str) -> bool:
    return any(c in COGNITO_SYMBOLS for c in password) or " " in password.strip()


def password_problem(policy: dict[str, Any], password: str) -> str | None:
    """Cognito's message for the first rule of ``PasswordPolicy`` the password breaks."""
    checks = [
        (len(password) >= int(policy.get("MinimumLength", 8)), "Password not long enough"),
        (
            not policy.get("RequireUppercase") or any(c.isupper() for c in password),
            "Password must have uppercase characters",
        ),
        (
            not policy.get("RequireLowercase") or any(c.islower() for c in password),
            "Password must have lowercase characters",
        ),
        (
            not policy.get("RequireNumbers") or any(c.isdigit() for c in password),
            "Password must have numeric characters",
        ),
        (
            not policy.get("RequireSymbols") or _has_symbol(password),
            "Password must have symbol characters",
        ),
    ]
    for passed, message in checks:
        if not passed:
            return f"Password did not conform with policy: {message}"
    return None


def _bind(host: str, port: int, role: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUseError(port, role) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class LocalCloud:
    """Start with ``await stack.start()`` (or ``async with LocalCloud(...)``), stop with ``stop``.

    After start: ``template``, ``provisioned``, ``runtime`` (invoke functions, read stats),
    ``gateway``, ``simulator``, ``base_url``, ``sim_url``, ``aws_endpoint_url``, ``demo``.
    """

    def __init__(
        self,
        port: int = 8000,
        host: str = "127.0.0.1",
        seed: int = 0,
        demo: bool = True,
        *,
        name_prefix: str = "",
        template_path: Path = TEMPLATE_PATH,
        aws_endpoint_url: str | None = None,
        lambda_concurrency: int = 256,
        lambda_isolation: str = "thread",
        scheduler_jitter: bool = False,
        ebay_api_base_url: str | None = None,
        hosted_dashboard: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port
        # More of the template's parameters (sam deploy's --parameter-overrides), e.g. a test's
        # CliCallbackPort; the stack's own (Stage, URLs of the local servers) win.
        self.parameters = dict(parameters or {})
        # The dashboard as deployed (local/hosted_dashboard.py) on port + 4: the Hosted UI's
        # sign-in, the template's headers, eBay's accept URL on it. The stack's DashboardUrl.
        self.hosted_dashboard_enabled = hosted_dashboard
        self.hosted_dashboard: HostedDashboard | None = None
        self._hosted_runner: web.AppRunner | None = None
        self._hosted_sock: socket.socket | None = None
        self.hosted_port = 0
        # Cognito's Hosted UI for the local pool (local/hosted_ui.py), on the gateway's port.
        self.hosted_ui: HostedUi | None = None
        # An eBay (simulator) running elsewhere, e.g. ``python -m local.ebay_sim`` in its own
        # process, instead of one in this process; it must accept the stack's app keyset.
        self.external_ebay_url = ebay_api_base_url
        # Concurrent invocations (threads). A waiting bid executor holds one for minutes.
        self.lambda_concurrency = lambda_concurrency
        # "thread": handlers run in this process; "process": each concurrent invocation in a
        # worker process of its own, reused while warm (local.lambda_containers).
        self.lambda_isolation = lambda_isolation
        # Fire one-time schedules anywhere within their minute, as EventBridge Scheduler may.
        self.scheduler_jitter = scheduler_jitter
        self.scheduler: LocalScheduler | None = None
        self.host = host
        self.seed = seed
        self.demo_enabled = demo
        self.name_prefix = name_prefix
        self.template_path = template_path
        # An AWS endpoint that is already running (a test session's moto) instead of our own.
        self.external_aws_endpoint_url = aws_endpoint_url
        self.demo = Credentials(DEMO_EMAIL, DEMO_PASSWORD)
        # Postmark's API for the notifier: messages are kept, shown at /local/emails.
        self.email_sink = EmailSink()
        self.app_keyset = {
            "clientId": APP_CLIENT_ID,
            "clientSecret": APP_CLIENT_SECRET,
            "ruName": APP_RU_NAME,
        }
        self.moto: MotoHandle | None = None
        self.simulator: Simulator | None = None
        self.template: Template | None = None
        self.provisioned: Provisioned | None = None
        self.runtime: LambdaRuntime | None = None
        # Lambda's asynchronous invocation (retries, on-failure destinations), for the Invoke
        # API's Event type and the scheduler alike.
        self.events: EventInvoker | None = None
        self.gateway: HttpGateway | None = None
        self._sim_runner: web.AppRunner | None = None
        self._runner: web.AppRunner | None = None
        self.websocket: WebSocketGateway | None = None
        self.stream_pump: StreamPump | None = None
        # The event source mappings' checkpoints: a pump that replaces another resumes there.
        self.stream_checkpoints: Checkpoints = {}
        self._ws_runner: web.AppRunner | None = None
        self.ws_port = 0
        self._saved_environ: dict[str, str] | None = None
        self.bound_port = 0
        self.sim_url = ""
        # The deletion endpoint's token, and whether eBay (the simulator) subscribed the
        # endpoint: it sends its challenge first, as eBay's developer portal does.
        self.verification_token = ""
        self.account_deletion_subscribed = False

    # ---- URLs

    @property
    def public_host(self) -> str:
        return "localhost" if self.host in ("127.0.0.1", "localhost", "0.0.0.0") else self.host  # noqa: S104

    @property
    def base_url(self) -> str:
        """The REST API's base URL, as a browser on this machine reaches it."""
        return f"http://{self.public_host}:{self.bound_port}"

    @property
    def lambda_endpoint_url(self) -> str:
        """Lambda's Invoke API, served by the gateway's port."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "localhost") else self.host  # noqa: S104
        return f"http://{host}:{self.bound_port}"

    @property
    def aws_endpoint_url(self) -> str:
        if self.external_aws_endpoint_url:
            return self.external_aws_endpoint_url
        return self.moto.endpoint_url if self.moto else ""

    @property
    def account_deletion_endpoint(self) -> str:
        """The Marketplace Account Deletion endpoint as registered with eBay (the simulator),
        on the loopback address the simulator reaches."""
        return f"{self.lambda_endpoint_url}{ACCOUNT_DELETION_PATH}"

    @property
    def websocket_url(self) -> str:
        """The WebSocket API's URL (append ``?token=<Cognito token>``); '' when there is none."""
        if not self.websocket:
            return ""
        return f"ws://{self.public_host}:{self.ws_port}/{self.websocket.stage}"

    @property
    def hosted_ui_url(self) -> str:
        """The Hosted UI stand-in, what the deployed dashboard's config calls the domain."""
        return f"{self.base_url}{HOSTED_UI_PREFIX}"

    @property
    def dashboard_url(self) -> str:
        """The stack's DashboardUrl: the deployed-mode dashboard when it runs, else the
        gateway's (local sign-in)."""
        if self.hosted_dashboard_enabled:
            return f"http://{self.public_host}:{self.hosted_port}"
        return self.base_url

    @property
    def websocket_management_url(self) -> str:
        """The management API (``/@connections``) the product pushes through."""
        if not self.websocket:
            return ""
        return f"http://127.0.0.1:{self.ws_port}/{self.websocket.stage}"

    def info(self) -> dict[str, Any]:
        """What ``GET /local/info`` answers."""
        return {
            "restBaseUrl": self.base_url,
            "websocketUrl": self.websocket_url or None,
            "ebaySimulatorUrl": self.sim_url,
            "emailSinkUrl": f"{self.base_url}/local/emails",
            "awsEndpointUrl": self.aws_endpoint_url,
            "openapiUrl": f"{self.base_url}/openapi.json",
            "docsUrl": f"{self.base_url}/docs",
            "dashboardUrl": self.base_url,
            "hostedDashboardUrl": self.dashboard_url if self.hosted_dashboard_enabled else None,
            "hostedUiUrl": self.hosted_ui_url,
            "demoUser": {"username": self.demo.username, "password": self.demo.password}
            if self.demo_enabled
            else None,
            "ebayApp": dict(self.app_keyset),
            "demoEbayUsername": DEMO_EBAY_USER if self.demo_enabled else None,
            "ebayAccountDeletion": {
                "endpoint": self.account_deletion_endpoint,
                "verificationToken": self.verification_token,
                "subscribed": self.account_deletion_subscribed,
            }
            if self.verification_token
            else None,
            "userPoolId": self.provisioned.user_pool_id if self.provisioned else None,
            "userPoolClientId": self.provisioned.user_pool_client_id if self.provisioned else None,
            "state": "in-memory",
        }

    def banner(self) -> str:
        info = self.info()
        lines = [
            "eBay Sniper local stack is up",
            f"  REST API + dashboard  {info['restBaseUrl']}",
            f"  API docs              {info['docsUrl']}  (OpenAPI: {info['openapiUrl']})",
            f"  stack info            {info['restBaseUrl']}/local/info",
            f"  eBay simulator        {info['ebaySimulatorUrl']}",
            f"  emails (not sent)     {info['emailSinkUrl']}",
            f"  WebSocket (realtime)  {info['websocketUrl']}?token=<idToken>",
            f"  AWS endpoint (moto)   {info['awsEndpointUrl']}",
            f"  Cognito Hosted UI     {info['hostedUiUrl']}  (stand-in)",
        ]
        if info["hostedDashboardUrl"]:
            lines.append(
                f"  dashboard as deployed {info['hostedDashboardUrl']}  (Hosted UI sign-in)"
            )
        if self.demo_enabled:
            lines += [
                f"  demo user             {self.demo.username} / {self.demo.password}",
                f"  demo eBay user        {DEMO_EBAY_USER} (auctions in its watch list)",
            ]
        lines.append("State lives in memory only: everything is lost when this process exits.")
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)

    # ---- lifecycle

    async def __aenter__(self) -> LocalCloud:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        sock = _bind(self.host, self.port, "the REST API")
        self.bound_port = sock.getsockname()[1]
        if self.hosted_dashboard_enabled:
            # Bound first: eBay's accept URL and the stack's DashboardUrl name its port.
            hosted_port = self.bound_port + 4 if self.port != 0 else 0
            try:
                self._hosted_sock = _bind(self.host, hosted_port, "the dashboard, --port + 4")
            except BaseException:
                sock.close()
                raise
            self.hosted_port = self._hosted_sock.getsockname()[1]
        try:
            await self._start_services(sock)
        except BaseException:
            sock.close()
            await self.stop()
            raise

    async def _start_services(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        fixed = self.port != 0
        if self.external_ebay_url:
            self.sim_url = self.external_ebay_url.rstrip("/")
        else:
            await self._start_simulator(fixed)

        if not self.external_aws_endpoint_url:
            moto_port = self.bound_port + 2 if fixed else 0
            try:
                self.moto = await loop.run_in_executor(None, start_moto, moto_port, self.host)
            except OSError as exc:
                raise PortInUseError(moto_port, "the AWS endpoint, --port + 2") from exc

        await loop.run_in_executor(None, self._provision)
        assert self.template is not None
        assert self.provisioned is not None

        self.runtime = LambdaRuntime(
            self.template, max_workers=self.lambda_concurrency, isolation=self.lambda_isolation
        )
        self.events = EventInvoker(
            self.template, self.runtime, client("sqs", self.aws_endpoint_url)
        )
        self._saved_environ = dict(os.environ)
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        # boto3's Lambda client invokes this stack's functions (Lambda's Invoke API below).
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_endpoint_url
        self.runtime.apply_environment()
        # Each stack is a fresh set of "containers": no adapter built for another stack's tables
        # or endpoints (earlier in this process) may survive into this one.
        new_containers()
        await self._start_realtime(fixed)
        self.hosted_ui = HostedUi(
            base_url=self.hosted_ui_url,
            endpoint_url=self.provisioned.endpoint_url,
            user_pool_id=self.provisioned.user_pool_id,
            issuer=self.provisioned.issuer,
            username=self.username,
        )
        # The functions (in this process) trade access tokens for emails at the stand-in.
        os.environ["COGNITO_USERINFO_URL"] = (
            f"{self.lambda_endpoint_url}{HOSTED_UI_PREFIX}/oauth2/userInfo"
        )

        self.gateway = HttpGateway(self.template, self.runtime, jwks_url=self.provisioned.jwks_url)
        app = build_app(
            self.gateway,
            local_routes=[
                *LocalEndpoints(self).routes(),
                *self.hosted_ui.routes(),
                *self.email_sink.routes(),
                *lambda_routes(RuntimeInvoker(self.template, self.runtime, self.events)),
            ],
            dashboard_dir=DASHBOARD_DIR,
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        answer_parse_errors_as_api_gateway(self._runner)
        await web.SockSite(self._runner, sock).start()
        self.scheduler = LocalScheduler(
            self.template,
            self.runtime,
            client("scheduler", self.aws_endpoint_url),
            minute_jitter=self.scheduler_jitter,
            events=self.events,
        )
        await self.scheduler.start()
        await self._subscribe_account_deletion()
        if self._hosted_sock is not None:
            await self._start_hosted_dashboard(self._hosted_sock)
        log.info("local stack listening on %s", self.base_url)

    async def _start_hosted_dashboard(self, sock: socket.socket) -> None:
        """The site deploy/dashboard.py would upload, from the template's outputs with the
        local servers in place of the AWS URLs, served as the distribution serves it."""
        assert self.template is not None
        template = self.template
        deploy = deploy_script()
        outputs = {
            name: str(template.resolve(template.raw["Outputs"][name]["Value"]))
            for name in deploy.REQUIRED_OUTPUTS
        }
        aws_websocket = outputs["WebSocketUrl"].rsplit("/", 1)[0]
        sources = {
            f"https://*.execute-api.{template.region}.amazonaws.com": self.base_url,
            aws_websocket: f"ws://{self.public_host}:{self.ws_port}",
            f"https://{outputs['CognitoDomain']}": f"{self.hosted_ui_url}/",
            # Items' pictures: eBay's picture hosts are the simulator's /images.
            "https://*.ebayimg.com": self.sim_url,
            "https://i.ebayimg.sandbox.ebay.com": self.sim_url,
        }
        outputs.update(
            HttpApiUrl=self.base_url,
            WebSocketUrl=self.websocket_url,
            CognitoDomain=self.hosted_ui_url,
        )
        self.hosted_dashboard = HostedDashboard(template, outputs, sources)
        self._hosted_runner = web.AppRunner(
            self.hosted_dashboard.app(), access_log=None, shutdown_timeout=1.0
        )
        await self._hosted_runner.setup()
        await web.SockSite(self._hosted_runner, sock).start()

    async def _start_simulator(self, fixed: bool) -> None:
        accept_base = self.dashboard_url
        self.simulator = Simulator(
            SimConfig(
                client_id=APP_CLIENT_ID,
                client_secret=APP_CLIENT_SECRET,
                ru_name=APP_RU_NAME,
                # As the stack's outputs EbayAcceptUrl and EbayDeclineUrl name them.
                accept_url=f"{accept_base}/ebay/callback/",
                decline_url=f"{accept_base}/ebay/declined/",
                seed=self.seed,
            )
        )
        if self.demo_enabled:
            self.simulator.seed_demo(DEMO_EBAY_USER)
        sim_port = self.bound_port + 1 if fixed else 0
        try:
            self._sim_runner, self.sim_url = await start_simulator(
                self.simulator, self.host, sim_port
            )
        except OSError as exc:
            raise PortInUseError(sim_port, "the eBay simulator, --port + 1") from exc

    async def _subscribe_account_deletion(self) -> None:
        """Register the deletion endpoint and its token with eBay (the simulator), which sends
        its challenge first and subscribes the endpoint only if the answer is right."""
        if not self.verification_token:
            return
        body = {
            "endpoint": self.account_deletion_endpoint,
            "verificationToken": self.verification_token,
        }
        url = f"{self.sim_url}/_sim/notifications/destination"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.post(url, json=body) as answer,
            ):
                self.account_deletion_subscribed = answer.status == 200
                detail = await answer.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = repr(exc)
        if not self.account_deletion_subscribed:
            log.warning("eBay (the simulator) did not subscribe the deletion endpoint: %s", detail)

    async def _start_realtime(self, fixed: bool) -> None:
        """The WebSocket API on ``port + 3`` and the stream pump, when the template has them."""
        assert self.template is not None
        assert self.provisioned is not None
        assert self.runtime is not None
        if websocket_api(self.template) is not None:
            ws_port = self.bound_port + 3 if fixed else 0
            ws_sock = _bind(self.host, ws_port, "the WebSocket API, --port + 3")
            self.ws_port = ws_sock.getsockname()[1]
            self.websocket = WebSocketGateway(
                self.template, self.runtime, domain_name=f"{self.public_host}:{self.ws_port}"
            )
            # The functions push through this stack's management API and verify its tokens.
            os.environ["WEBSOCKET_MANAGEMENT_URL"] = self.websocket_management_url
            os.environ["COGNITO_JWKS_URL"] = self.provisioned.jwks_url
            self._ws_runner = web.AppRunner(
                build_websocket_app(self.websocket), access_log=None, shutdown_timeout=1.0
            )
            await self._ws_runner.setup()
            await web.SockSite(self._ws_runner, ws_sock).start()
        self.stream_pump = StreamPump(
            self.template,
            self.runtime,
            self.aws_endpoint_url,
            checkpoints=self.stream_checkpoints,
        )
        await self.stream_pump.start()

    def _provision(self) -> None:
        overrides = {
            **self.parameters,
            "Stage": "local",
            "EbayEnvironment": "local",
            "EbayApiBaseUrl": self.sim_url,
            "EbayAuthUrl": f"{self.sim_url}/oauth2/authorize",
            "AccountDeletionEndpointUrl": self.account_deletion_endpoint,
            "DashboardUrl": self.dashboard_url,
            # The functions run in this process: they reach the sink on the loopback address.
            "PostmarkApiUrl": f"http://127.0.0.1:{self.bound_port}{POSTMARK_PREFIX}"
            if self.public_host == "localhost"
            else f"{self.base_url}{POSTMARK_PREFIX}",
        }
        self.template = Template.load(self.template_path, overrides, name_prefix=self.name_prefix)
        self.provisioned = provision(self.template, self.aws_endpoint_url)
        ssm = client("ssm", self.aws_endpoint_url)
        ssm.put_parameter(
            Name=self.provisioned.parameters["ebay-app"],
            Type="SecureString",
            Value=json.dumps(self.app_keyset),
            Overwrite=True,
        )
        if VERIFICATION_TOKEN_PARAMETER in self.provisioned.parameters:
            self.verification_token = ssm.get_parameter(
                Name=self.provisioned.parameters[VERIFICATION_TOKEN_PARAMETER],
                WithDecryption=True,
            )["Parameter"]["Value"]
        if "postmark" in self.provisioned.parameters:
            ssm.put_parameter(
                Name=self.provisioned.parameters["postmark"],
                Type="SecureString",
                Value=json.dumps({"serverToken": LOCAL_SERVER_TOKEN}),
                Overwrite=True,
            )
        if self.demo_enabled:
            self.create_user(self.demo.username, self.demo.password)

    def create_user(self, email: str, password: str) -> str:
        """A confirmed user in the local pool; returns its ``sub``."""
        assert self.provisioned is not None
        problem = password_problem(self._password_policy(), password)
        if problem:
            raise ValueError(problem)
        cognito = client("cognito-idp", self.provisioned.endpoint_url)
        username = self.username(email)
        user = cognito.admin_create_user(
            UserPoolId=self.provisioned.user_pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )["User"]
        cognito.admin_set_user_password(
            UserPoolId=self.provisioned.user_pool_id,
            Username=username,
            Password=password,
            Permanent=True,
        )
        attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
        return str(attributes.get("sub", user["Username"]))

    def username(self, typed: str) -> str:
        """The pool's username for what a user typed: folded to lower case when the template's
        pool is case-insensitive (``UsernameConfiguration``), which moto does not do itself."""
        assert self.template is not None
        assert self.provisioned is not None
        logical_id = next(iter(self.provisioned.user_pools))
        props = self.template.properties(logical_id)
        sensitive = props.get("UsernameConfiguration", {}).get("CaseSensitive", True)
        return typed if sensitive else typed.lower()

    def _password_policy(self) -> dict[str, Any]:
        assert self.template is not None
        assert self.provisioned is not None
        logical_id = next(iter(self.provisioned.user_pools))
        props = self.template.properties(logical_id)
        return dict(props.get("Policies", {}).get("PasswordPolicy", {}))

    async def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call twice."""
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        if self.stream_pump is not None:
            await self.stream_pump.stop()
            self.stream_pump = None
        if self.websocket is not None:
            await self.websocket.close_all()
        if self._ws_runner is not None:
            await self._ws_runner.cleanup()
            self._ws_runner = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._hosted_runner is not None:
            await self._hosted_runner.cleanup()
            self._hosted_runner = None
        if self._hosted_sock is not None:
            self._hosted_sock.close()
            self._hosted_sock = None
        if self.hosted_dashboard is not None:
            self.hosted_dashboard.close()
            self.hosted_dashboard = None
        if self.events is not None:
            self.events.shutdown()
            self.events = None
        if self.runtime is not None:
            self.runtime.shutdown()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None
            new_containers()
        if self.moto is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.moto.stop)
            self.moto = None
        if self._sim_runner is not None:
            await self._sim_runner.cleanup()
            self._sim_runner = None


class LocalEndpoints:
    """``/local/...`` (stack info, sign-up, log-in, refresh), ``/openapi.json`` and ``/docs``."""

    def __init__(self, stack: LocalCloud) -> None:
        self.stack = stack

    def routes(self) -> list[web.AbstractRouteDef]:
        routes: list[web.AbstractRouteDef] = [
            web.get("/local/info", self.info),
            web.post("/local/signup", self.signup),
            web.post("/local/login", self.login),
            web.post("/local/refresh", self.refresh),
            web.get("/openapi.json", self.openapi),
            web.get("/docs", self.docs),
        ]
        swagger = _swagger_assets()
        if swagger is not None:
            routes.append(web.static("/docs/assets", swagger))
        return routes

    @property
    def _cognito(self) -> Any:
        assert self.stack.provisioned is not None
        return client("cognito-idp", self.stack.provisioned.endpoint_url)

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response(self.stack.info())

    async def signup(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or "@" not in email or not isinstance(password, str):
            return _error(400, "email and password are required")
        try:
            sub = await asyncio.to_thread(self.stack.create_user, email, password)
        except ValueError as exc:
            return _error(400, str(exc))
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "UsernameExistsException":
                return _error(409, "An account with the given email already exists.")
            if code in ("InvalidPasswordException", "InvalidParameterException"):
                return _error(400, exc.response["Error"]["Message"])
            raise
        return web.json_response({"username": email, "userSub": sub, "confirmed": True}, status=201)

    async def login(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return _error(400, "username and password are required")
        # USER_PASSWORD_AUTH here only: the template's app client allows SRP and the Hosted UI.
        return await self._auth(
            "USER_PASSWORD_AUTH",
            {"USERNAME": self.stack.username(username), "PASSWORD": password},
        )

    async def refresh(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        token = body.get("refreshToken")
        if not isinstance(token, str):
            return _error(400, "refreshToken is required")
        return await self._auth("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": token})

    async def _auth(self, flow: str, parameters: dict[str, str]) -> web.Response:
        assert self.stack.provisioned is not None
        try:
            result = await asyncio.to_thread(
                self._cognito.initiate_auth,
                ClientId=self.stack.provisioned.user_pool_client_id,
                AuthFlow=flow,
                AuthParameters=parameters,
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                # PreventUserExistenceErrors: an unknown user looks like a wrong password.
                return _error(401, "Incorrect username or password.")
            raise
        tokens = result["AuthenticationResult"]
        return web.json_response(
            {
                "idToken": tokens["IdToken"],
                "accessToken": tokens["AccessToken"],
                "refreshToken": tokens.get("RefreshToken", parameters.get("REFRESH_TOKEN")),
                "expiresIn": tokens["ExpiresIn"],
                "tokenType": tokens.get("TokenType", "Bearer"),
            }
        )

    async def openapi(self, request: web.Request) -> web.Response:
        try:
            document = await asyncio.to_thread(openapi_document)
        except LookupError as exc:
            return _error(503, f"The OpenAPI document is not available: {exc}.")
        return web.json_response(document)

    async def docs(self, request: web.Request) -> web.StreamResponse:
        if _swagger_assets() is not None:
            return web.FileResponse(STATIC_DIR / "swagger.html")
        try:
            document = await asyncio.to_thread(openapi_document)
        except LookupError as exc:
            return _error(503, f"The OpenAPI document is not available: {exc}.")
        return web.Response(text=operations_page(document), content_type="text/html")


def operations_page(document: dict[str, Any]) -> str:
    """The API's operations as a plain HTML list, for when Swagger UI is not installed."""
    info = document.get("info", {})
    items = []
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method.lower() not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            summary = operation.get("summary") or operation.get("description") or ""
            items.append(
                f"<li><code>{html.escape(method.upper())} {html.escape(path)}</code> "
                f"{html.escape(summary)}</li>"
            )
    title = html.escape(str(info.get("title", "API")))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title} {html.escape(str(info.get('version', '')))}</h1>"
        f"<p><a href='/openapi.json'>openapi.json</a></p><ul>{''.join(items)}</ul></body></html>"
    )


def _swagger_assets() -> Path | None:
    """Swagger UI's files from the ``swagger-ui-bundle`` package, if it is installed."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)
