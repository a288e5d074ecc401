"""The dashboard as the stack hosts it: template.yaml's bucket, distribution, headers and Hosted
UI, and deploy/dashboard.py, which writes the dashboard's configuration from the stack's outputs
and uploads it. (The browser walks it in tests/browser/test_hosted_dashboard.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from deploy import dashboard as deploy
from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
OUTPUTS = {
    "DashboardUrl": "https://d111.cloudfront.net",
    "DashboardBucketName": "stack-dashboardbucket-abc",
    "DashboardDistributionId": "E2ABCDEF",
    "HttpApiUrl": "https://api123.execute-api.eu-west-1.amazonaws.com/dev",
    "WebSocketUrl": "wss://ws456.execute-api.eu-west-1.amazonaws.com/dev",
    "UserPoolClientId": "client789",
    "UserPoolId": "eu-west-1_pool",
    "CognitoDomain": "ebay-sniper-dev-123456789012.auth.eu-west-1.amazoncognito.com",
    "CognitoCallbackUrl": "https://d111.cloudfront.net/auth/callback/",
    "CognitoSignOutUrl": "https://d111.cloudfront.net/",
    "CliCallbackUrl": "http://localhost:8976/callback",
    "EbayAcceptUrl": "https://d111.cloudfront.net/ebay/callback/",
    "EbayDeclineUrl": "https://d111.cloudfront.net/ebay/declined/",
}


def _props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def _refs(value: Any) -> str:
    """Every Ref/GetAtt/Sub a value makes, as text, to look for a resource's name in."""
    return json.dumps(value)


# ------------------------------------------------------------------------------ the template


def test_the_bucket_is_private_encrypted_and_read_only_by_this_distribution():
    bucket = _props("DashboardBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "WebsiteConfiguration" not in bucket
    statements = _props("DashboardBucketPolicy")["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "DashboardDistribution" in _refs(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 1
    assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_distribution_reads_the_bucket_through_an_origin_access_control():
    config = _props("DashboardDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert "DashboardOriginAccessControl" in _refs(origin["OriginAccessControlId"])
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert not any(
        r["Type"] == "AWS::CloudFront::CloudFrontOriginAccessIdentity" for r in RESOURCES.values()
    )
    assert config["DefaultRootObject"] == "index.html"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "DashboardHeadersPolicy" in _refs(behaviour["ResponseHeadersPolicyId"])
    (association,) = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"


def test_the_security_headers_and_a_csp_built_from_the_stacks_resources():
    headers = _props("DashboardHeadersPolicy")["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    # Items' pictures come from eBay's picture hosts, nothing else from elsewhere
    assert directives["img-src"].split() == [
        "'self'",
        "https://*.ebayimg.com",
        "https://i.ebayimg.sandbox.ebay.com",
    ]
    connect = directives["connect-src"].split()
    # The stack's WebSocket API and Hosted UI exactly; the REST API as this region's
    # execute-api (naming it would be a cycle: the pages' <meta> CSP names it).
    assert "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}" in connect
    assert "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com" in connect
    assert "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}" in connect
    assert not [s for s in connect if s in ("*", "https:", "wss:")]


def test_the_hosted_ui_client_uses_the_code_grant_and_returns_to_the_hosted_dashboard():
    assert RESOURCES["UserPoolDomain"]["Type"] == "AWS::Cognito::UserPoolDomain"
    client = _props("UserPoolClient")
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["GenerateSecret"] is False
    assert "ALLOW_REFRESH_TOKEN_AUTH" in client["ExplicitAuthFlows"]
    outputs = TEMPLATE["Outputs"]
    # the dashboard's return, and the command line's loopback one (`sniper smoke` signing in)
    assert client["CallbackURLs"] == [
        outputs["CognitoCallbackUrl"]["Value"],
        outputs["CliCallbackUrl"]["Value"],
    ]
    assert client["LogoutURLs"] == [outputs["CognitoSignOutUrl"]["Value"]]
    assert "/auth/callback/" in _refs(client["CallbackURLs"])
    assert "/ebay/callback/" in _refs(outputs["EbayAcceptUrl"]["Value"])


def test_the_template_has_every_output_the_deploy_script_reads():
    assert set(deploy.REQUIRED_OUTPUTS) <= set(TEMPLATE["Outputs"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the CloudFront Function")
@pytest.mark.parametrize(
    ("uri", "served"),
    [
        ("/", "/index.html"),
        ("/ebay/callback/", "/ebay/callback/index.html"),
        ("/ebay/callback", "/ebay/callback/index.html"),
        ("/auth/callback/", "/auth/callback/index.html"),
        ("/js/app.js", "/js/app.js"),
        ("/favicon.svg", "/favicon.svg"),
    ],
)
def test_the_viewer_request_function_serves_a_directory_as_its_index(uri: str, served: str):
    code = _props("DashboardIndexFunction")["FunctionCode"]
    event = json.dumps({"request": {"uri": uri, "querystring": {"code": {"value": "x"}}}})
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({event})));"
    result = json.loads(
        subprocess.run(["node", "-e", script], capture_output=True, check=True).stdout
    )
    assert result["uri"] == served
    assert result["querystring"] == {"code": {"value": "x"}}


# ------------------------------------------------------------------------------ deploy/dashboard.py


class RecordingAws:
    """The AWS CLI as the script sees it: describe-stacks answers, everything else recorded."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.commands: list[list[str]] = []
        self.uploaded: dict[str, str] = {}

    def __call__(self, args: Sequence[str]) -> str:
        self.commands.append(list(args))
        if list(args[:2]) == ["cloudformation", "describe-stacks"]:
            stack = {
                "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/abc",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
            }
            return json.dumps({"Stacks": [stack]})
        if list(args[:2]) == ["s3", "sync"]:
            site = Path(args[2])
            self.uploaded = {
                str(p.relative_to(site)): p.read_text() for p in site.rglob("*") if p.is_file()
            }
        return "{}"


def test_publish_writes_the_config_from_the_outputs_uploads_and_invalidates():
    # Given a deployed stack
    aws = RecordingAws(OUTPUTS)
    said: list[str] = []
    # When the dashboard is published
    deploy.publish("ebay-sniper-dev", aws, say=said.append)
    # Then the outputs were read, the site synced to the bucket and the cache invalidated
    assert [c[:2] for c in aws.commands] == [
        ["cloudformation", "describe-stacks"],
        ["s3", "sync"],
        ["cloudfront", "create-invalidation"],
    ]
    sync = aws.commands[1]
    assert sync[3] == "s3://stack-dashboardbucket-abc/"
    assert "--delete" in sync
    assert aws.commands[2][aws.commands[2].index("--distribution-id") + 1] == "E2ABCDEF"
    assert aws.commands[2][-1] == "/*"
    # And config.js holds the stack's URLs (the API with its stage) and the Hosted UI
    config = aws.uploaded["config.js"]
    document = json.loads(config[config.index("{") : config.rindex("}") + 1])
    assert document == {
        "mode": "cognito",
        "apiBaseUrl": "https://api123.execute-api.eu-west-1.amazonaws.com/dev",
        "websocketUrl": "wss://ws456.execute-api.eu-west-1.amazonaws.com/dev",
        "cognito": {
            "domain": OUTPUTS["CognitoDomain"],
            "clientId": "client789",
            "region": "eu-west-1",
            "redirectUri": "https://d111.cloudfront.net/auth/callback/",
            "logoutUri": "https://d111.cloudfront.net/",
            "cliRedirectUri": "http://localhost:8976/callback",
            "scopes": ["openid", "email", "profile"],
        },
    }
    # And every page names exactly the stack's API, WebSocket and Hosted UI in its CSP
    pages = {name: text for name, text in aws.uploaded.items() if name.endswith(".html")}
    assert {"index.html", "ebay/callback/index.html", "auth/callback/index.html"} <= set(pages)
    for name, text in pages.items():
        csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
        assert csp, name
        assert csp.group(1) == (
            "connect-src 'self' https://api123.execute-api.eu-west-1.amazonaws.com/dev/ "
            "wss://ws456.execute-api.eu-west-1.amazonaws.com/dev "
            f"https://{OUTPUTS['CognitoDomain']}/"
        )
        assert text.index("Content-Security-Policy") < text.find("<script") or "<script" not in text
    # And the user is told what to register with eBay
    assert any("https://d111.cloudfront.net/ebay/callback/" in line for line in said)


def test_a_dry_run_reads_the_stack_but_uploads_nothing(tmp_path: Path):
    aws = RecordingAws(OUTPUTS)
    said: list[str] = []
    deploy.publish("s", aws, out=tmp_path / "site", dry_run=True, say=said.append)
    assert [c[:2] for c in aws.commands] == [["cloudformation", "describe-stacks"]]
    assert (tmp_path / "site" / "config.js").read_text().count("client789") == 1
    assert sum(line.startswith("would run: aws s3 sync") for line in said) == 1


def test_a_stack_without_the_hosting_outputs_is_refused_with_their_names(tmp_path: Path):
    outputs = {k: v for k, v in OUTPUTS.items() if k != "DashboardBucketName"}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    status = deploy.main(
        ["--stack-name", "s", "--outputs-file", str(tmp_path / "outputs.json"), "--dry-run"]
    )
    assert status == 2
    with pytest.raises(deploy.MissingOutputError, match="DashboardBucketName"):
        deploy.SiteConfig.from_outputs(outputs, "eu-west-1")


def test_an_outputs_file_builds_offline_with_the_region_of_the_hosted_ui(tmp_path: Path):
    listed = [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]
    (tmp_path / "outputs.json").write_text(json.dumps(listed))
    out = tmp_path / "site"
    outputs_file = str(tmp_path / "outputs.json")
    status = deploy.main(
        ["--stack-name", "s", "--outputs-file", outputs_file, "--dry-run", "--out", str(out)]
    )
    assert status == 0
    assert '"region": "eu-west-1"' in (out / "config.js").read_text()
