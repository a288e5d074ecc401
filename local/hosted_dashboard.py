"""The dashboard as the stack hosts it on AWS, for the local stack's deployed mode.

The site is the one ``deploy/dashboard.py`` uploads, built by that script's own code from
"outputs" in which the AWS URLs are the local servers (the gateway for the REST API, the local
WebSocket API, the Hosted UI stand-in of local/hosted_ui.py). It is served as the distribution
serves it: every response carries the template's response headers policy (its CSP's AWS sources
mapped to those local servers), and a directory's URI is its index.html, as the template's
CloudFront Function rewrites it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from local.template import REPO_ROOT, Template

DEPLOY_SCRIPT = REPO_ROOT / "deploy" / "dashboard.py"
HEADERS_POLICY_TYPE = "AWS::CloudFront::ResponseHeadersPolicy"
DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"


@cache
def deploy_script() -> ModuleType:
    """deploy/dashboard.py, the script that publishes the dashboard on AWS."""
    name = "deploy_dashboard"
    spec = importlib.util.spec_from_file_location(name, DEPLOY_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def security_headers(template: Template, sources: Mapping[str, str]) -> dict[str, str]:
    """The headers the template's distribution adds, its CSP's sources replaced by ``sources``
    (each AWS source, as the template resolves locally, to the local server standing in)."""
    distribution = next(iter(template.resources(DISTRIBUTION_TYPE)))
    behaviour = template.properties(distribution)["DistributionConfig"]["DefaultCacheBehavior"]
    policy_id = behaviour["ResponseHeadersPolicyId"]
    logical_id = next(
        name for name in template.resources(HEADERS_POLICY_TYPE) if template.refs[name] == policy_id
    )
    config = template.properties(logical_id)["ResponseHeadersPolicyConfig"]
    security: dict[str, Any] = config.get("SecurityHeadersConfig", {})
    headers: dict[str, str] = {}
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers["Strict-Transport-Security"] = value
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    if "FrameOptions" in security:
        headers["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    if "ReferrerPolicy" in security:
        headers["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    if "ContentSecurityPolicy" in security:
        csp = str(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
        for aws_source, local_source in sources.items():
            csp = csp.replace(aws_source, local_source)
        hosts = ("amazonaws.com", "amazoncognito.com", "ebayimg.com", "ebay.com")
        leftover = [s for s in csp.split() if any(host in s for host in hosts)]
        if leftover:
            raise ValueError(f"the CSP names {leftover}, which no local server stands in for")
        headers["Content-Security-Policy"] = csp
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[str(item["Header"])] = str(item["Value"])
    return headers


class HostedDashboard:
    """Build with the local stack's URLs; serve :meth:`app`; :meth:`close` removes the build."""

    def __init__(
        self, template: Template, outputs: Mapping[str, str], sources: Mapping[str, str]
    ) -> None:
        deploy = deploy_script()
        self.config = deploy.SiteConfig.from_outputs(outputs, template.region)
        self._scratch = Path(tempfile.mkdtemp(prefix="sniper-hosted-dashboard-"))
        self.root: Path = deploy.build_site(self._scratch / "site", self.config)
        self.headers = security_headers(template, sources)
        self.cache_control = str(deploy.CACHE_CONTROL)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", r"/{tail:[\s\S]*}", self.serve)
        app.router.add_route("HEAD", r"/{tail:[\s\S]*}", self.serve)
        return app

    async def serve(self, request: web.Request) -> web.StreamResponse:
        path = self.file(request.path)
        if path is None:
            # S3 through an origin access control without s3:ListBucket: a missing key is 403.
            response: web.StreamResponse = web.Response(status=403, text="AccessDenied")
        else:
            response = web.FileResponse(path, headers={"Cache-Control": self.cache_control})
        response.headers.update(self.headers)
        return response

    def file(self, uri: str) -> Path | None:
        """The file CloudFront would fetch for ``uri`` (the template's viewer-request
        function: a directory's URI, with or without its slash, is its index.html)."""
        uri = unquote(uri)
        if uri.endswith("/"):
            uri += "index.html"
        elif uri.rfind(".") < uri.rfind("/"):
            uri += "/index.html"
        candidate = (self.root / uri.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root.resolve()) or not candidate.is_file():
            return None
        return candidate

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
