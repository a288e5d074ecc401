#!/usr/bin/env python3
"""Publish the dashboard to the stack that hosts it.

    python deploy/dashboard.py --stack-name ebay-sniper-dev [--region eu-west-1] [--profile me]
    python deploy/dashboard.py --stack-name ebay-sniper-dev --dry-run --out build/dashboard

1. reads the stack's outputs (``aws cloudformation describe-stacks``);
2. builds the site from ``dashboard/``: ``config.js`` written from the outputs (the API's URL
   with its stage, the WebSocket URL, the Hosted UI's domain, the app client, the callback and
   sign-out URLs) and, in every page, a CSP ``<meta>`` naming the exact REST API, WebSocket and
   Hosted UI sources (the distribution's header can name the REST API only as "this region's
   execute-api": template.yaml, DashboardHeadersPolicy);
3. uploads it to the stack's bucket (``aws s3 sync --delete``; every file revalidated by
   browsers, kept a day by CloudFront) and invalidates the distribution's cache;
4. prints the URLs to register: eBay's accept and decline URLs for the RuName.

``--dry-run`` builds and prints the AWS commands without running them; ``--outputs-file`` reads
the outputs from a file (``describe-stacks --query "Stacks[0].Outputs"``) instead of AWS.
Exit status: 0 published, 1 an AWS command failed, 2 the stack lacks an output it needs.

Standard library only, so it runs wherever the AWS CLI does; the local stack serves the same
build for its deployed-mode dashboard (local/hosted_dashboard.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SOURCE = Path(__file__).resolve().parent.parent / "dashboard"
REQUIRED_OUTPUTS = (
    "DashboardUrl",
    "DashboardBucketName",
    "DashboardDistributionId",
    "HttpApiUrl",
    "WebSocketUrl",
    "UserPoolClientId",
    "CognitoDomain",
    "CognitoCallbackUrl",
    "CognitoSignOutUrl",
    "CliCallbackUrl",
    "EbayAcceptUrl",
    "EbayDeclineUrl",
)
# Browsers revalidate every file (an ETag round trip); CloudFront keeps it a day, and the
# invalidation below drops it at once on a new upload. The files are not fingerprinted, so a
# browser must never run yesterday's app.js against today's config.js.
CACHE_CONTROL = "max-age=0, s-maxage=86400"
CHARSET_META = '<meta charset="utf-8">'

Run = Callable[[Sequence[str]], str]


class MissingOutputError(Exception):
    """The stack has no output the dashboard needs (an older template, or another stack)."""


@dataclass(frozen=True)
class SiteConfig:
    """What the dashboard needs to know about its stack."""

    api_url: str
    websocket_url: str
    cognito_domain: str
    client_id: str
    region: str
    redirect_uri: str
    logout_uri: str
    cli_redirect_uri: str  # `sniper smoke`'s loopback callback (local/hosted_sign_in.py)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str], region: str) -> SiteConfig:
        missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
        if missing:
            raise MissingOutputError(
                f"the stack has no output {', '.join(missing)}: deploy the current template.yaml"
            )
        return cls(
            api_url=outputs["HttpApiUrl"].rstrip("/"),
            websocket_url=outputs["WebSocketUrl"].rstrip("/"),
            cognito_domain=outputs["CognitoDomain"],
            client_id=outputs["UserPoolClientId"],
            region=region,
            redirect_uri=outputs["CognitoCallbackUrl"],
            logout_uri=outputs["CognitoSignOutUrl"],
            cli_redirect_uri=outputs["CliCallbackUrl"],
        )


def config_js(config: SiteConfig) -> str:
    """dashboard/config.js for a stack (its format: docs/dashboard.md)."""
    document = {
        "mode": "cognito",
        "apiBaseUrl": config.api_url,
        "websocketUrl": config.websocket_url,
        "cognito": {
            "domain": config.cognito_domain,
            "clientId": config.client_id,
            "region": config.region,
            "redirectUri": config.redirect_uri,
            "logoutUri": config.logout_uri,
            "cliRedirectUri": config.cli_redirect_uri,
            "scopes": ["openid", "email", "profile"],
        },
    }
    return (
        "// Written by deploy/dashboard.py from the stack's outputs: edit the stack, not this.\n"
        f"export default {json.dumps(document, indent=2)};\n"
    )


def _base_source(url: str) -> str:
    """A CSP source for everything under a base URL (the API's stage, the Hosted UI)."""
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}/"


def _exact_source(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def page_csp(config: SiteConfig) -> str:
    """The CSP each page carries: where it may connect, exactly (the stack's API under its
    stage, its WebSocket, its Hosted UI). The distribution's header policy applies as well."""
    sources = [
        "'self'",
        _base_source(config.api_url),
        _exact_source(config.websocket_url),
        _base_source(config.cognito_domain),
    ]
    return f"connect-src {' '.join(sources)}"


def build_site(out: Path, config: SiteConfig, source: Path = SOURCE) -> Path:
    """Copy ``source`` to ``out`` (emptied first) with the stack's config.js and CSP."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    (out / "config.js").write_text(config_js(config), encoding="utf-8")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{page_csp(config)}">'
    for page in sorted(out.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if CHARSET_META not in text:
            raise ValueError(f"{page.relative_to(out)}: no {CHARSET_META} to put the CSP after")
        page.write_text(text.replace(CHARSET_META, f"{CHARSET_META}\n{meta}", 1), "utf-8")
    return out


def aws_runner(region: str | None, profile: str | None) -> Run:
    """Runs ``aws <args>`` with the chosen region and profile; returns its standard output."""
    common = [
        *(["--region", region] if region else []),
        *(["--profile", profile] if profile else []),
    ]

    def run(args: Sequence[str]) -> str:
        command = ["aws", *args, *common]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603

    return run


def stack_outputs(run: Run, stack_name: str) -> tuple[dict[str, str], str]:
    """The stack's outputs by name, and its region (from its id)."""
    answer = json.loads(
        run(["cloudformation", "describe-stacks", "--stack-name", stack_name, "--output", "json"])
    )
    stack = answer["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return outputs, str(stack["StackId"]).split(":")[3]


def upload_commands(site: Path, outputs: Mapping[str, str]) -> list[list[str]]:
    bucket, distribution = outputs["DashboardBucketName"], outputs["DashboardDistributionId"]
    return [
        ["s3", "sync", str(site), f"s3://{bucket}/", "--delete", "--cache-control", CACHE_CONTROL],
        [
            "cloudfront",
            "create-invalidation",
            "--distribution-id",
            distribution,
            "--paths",
            "/*",
        ],
    ]


def publish(
    stack_name: str,
    run: Run,
    *,
    outputs: Mapping[str, str] | None = None,
    region: str | None = None,
    out: Path | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> SiteConfig:
    """Build the stack's dashboard and (unless ``dry_run``) upload it; returns its config."""
    if outputs is None:
        outputs, stack_region = stack_outputs(run, stack_name)
        region = region or stack_region
    config = SiteConfig.from_outputs(outputs, region or _region_of(outputs))
    with tempfile.TemporaryDirectory(prefix="dashboard-") as scratch:
        site = build_site(out or Path(scratch) / "site", config)
        for command in upload_commands(site, outputs):
            if dry_run:
                say("would run: aws " + " ".join(command))
            else:
                say("aws " + " ".join(command[:2]) + " ...")
                run(command)
    say(f"Dashboard:            {outputs['DashboardUrl']}/")
    say(f"eBay accept URL:      {outputs['EbayAcceptUrl']}  (register on your RuName)")
    say(f"eBay decline URL:     {outputs['EbayDeclineUrl']}  (register on your RuName)")
    say(f"Cognito callback URL: {outputs['CognitoCallbackUrl']}  (registered by the stack)")
    return config


def _region_of(outputs: Mapping[str, str]) -> str:
    """The region in the Hosted UI's domain, <prefix>.auth.<region>.amazoncognito.com."""
    _, _, rest = outputs.get("CognitoDomain", "").partition(".auth.")
    return rest.split(".", 1)[0]


def _read_outputs_file(path: Path) -> dict[str, str]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, dict):
        return {str(k): str(v) for k, v in document.items()}
    return {item["OutputKey"]: item["OutputValue"] for item in document}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the dashboard's configuration from a stack's outputs, upload it to "
        "the stack's bucket and invalidate its CloudFront cache."
    )
    parser.add_argument("--stack-name", required=True, help="the deployed stack (sam deploy)")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    parser.add_argument("--profile", help="an AWS CLI profile")
    parser.add_argument(
        "--dry-run", action="store_true", help="build, and print the upload instead of doing it"
    )
    parser.add_argument("--out", type=Path, help="build the site here (kept) instead of a temp dir")
    parser.add_argument(
        "--outputs-file",
        type=Path,
        help="the stack's outputs as JSON (describe-stacks' Outputs list, or a name: value map) "
        "instead of asking AWS",
    )
    args = parser.parse_args(argv)
    run = aws_runner(args.region, args.profile)
    outputs = _read_outputs_file(args.outputs_file) if args.outputs_file else None
    try:
        publish(
            args.stack_name,
            run,
            outputs=outputs,
            region=args.region,
            out=args.out,
            dry_run=args.dry_run,
        )
    except MissingOutputError as exc:
        print(f"deploy/dashboard.py: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"deploy/dashboard.py: {' '.join(exc.cmd)} failed:\n{exc.stderr}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
