"""common.sigv4 signs @connections requests exactly as botocore's SigV4Auth does."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from common.sigv4 import SigV4Signer

NOW = 1_717_171_717.0
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def _botocore_headers(credentials: Credentials, path: str, body: bytes) -> dict[str, str]:
    request = AWSRequest("POST", f"https://{HOST}{path}", data=body, headers={"Host": HOST})
    frozen = dt.datetime.fromtimestamp(NOW, dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k != "Host"}


@pytest.mark.parametrize(
    "connection_path",
    ["AbCdEfGhIjKlMnO%3D", "a%2Bb%2Fc%3D", "plain-id_1.2~3"],
    ids=["base64 padding", "plus and slash", "unreserved"],
)
@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE///token+with/chars="])
def test_the_signature_is_botocores(connection_path: str, token: str | None) -> None:
    # Given the function's credentials (temporary ones carry a session token)
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = f"/prod/@connections/{connection_path}"
    body = b'{"v":1,"type":"pong"}'
    # When both sign the same POST at the same instant
    ours = dict(
        SigV4Signer(credentials, "eu-west-1", "execute-api").headers(
            "POST", HOST, path, body, now=NOW
        )
    )
    # Then every header is botocore's, byte for byte
    assert ours == _botocore_headers(credentials, path, body)


def test_the_signing_key_follows_the_day_and_the_secret() -> None:
    # Given a signer that signed today
    credentials = Credentials("AKIDEXAMPLE", "secret-1")
    signer = SigV4Signer(credentials, "eu-west-1", "execute-api")
    signer.headers("POST", HOST, "/prod/@connections/x", b"", now=NOW)
    # When the day changes, and then the secret (refreshed credentials)
    tomorrow = dict(signer.headers("POST", HOST, "/prod/@connections/x", b"", now=NOW + 86_400))
    credentials.secret_key = "secret-2"
    rotated = dict(signer.headers("POST", HOST, "/prod/@connections/x", b"", now=NOW + 86_400))
    # Then each signature is still botocore's
    with mock.patch("botocore.auth.get_current_datetime") as clock:
        clock.return_value = dt.datetime.fromtimestamp(NOW + 86_400, dt.UTC).replace(tzinfo=None)
        for signed, secret in ((tomorrow, "secret-1"), (rotated, "secret-2")):
            request = AWSRequest(
                "POST", f"https://{HOST}/prod/@connections/x", data=b"", headers={"Host": HOST}
            )
            SigV4Auth(Credentials("AKIDEXAMPLE", secret), "execute-api", "eu-west-1").add_auth(
                request
            )
            assert signed["Authorization"] == request.headers["Authorization"]


# ---------------------------------------------------------------- the local gateway's check

SECRETS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
PATH = "/prod/@connections/AbC%2B%3D"


def _signed(
    secret: str = SECRETS["AKIDEXAMPLE"],
    region: str = "eu-west-1",
    service: str = "execute-api",
    token: str | None = None,
) -> dict[str, str]:
    """Headers botocore's SigV4Auth signs a POST of b"{}" to PATH with, at NOW."""
    request = AWSRequest("POST", f"https://{HOST}{PATH}", data=b"{}", headers={"Host": HOST})
    frozen = dt.datetime.fromtimestamp(NOW, dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        SigV4Auth(Credentials("AKIDEXAMPLE", secret, token), service, region).add_auth(request)
    return dict(request.headers.items())


def _check(headers: dict[str, str], path: str = PATH, body: bytes = b"{}", skew: float = 0) -> Any:
    from local import sigv4

    return sigv4.check(
        "POST",
        path,
        "",
        headers,
        body,
        secrets=SECRETS,
        region="eu-west-1",
        now=lambda: dt.datetime.fromtimestamp(NOW + skew, dt.UTC),
    )


def test_the_local_check_accepts_what_botocore_signs() -> None:
    # Given requests botocore signed, with and without a session token
    # Then the gateway's check lets them through
    assert _check(_signed()) is None
    assert _check(_signed(token="IQoJb3JpZ2luX2VjE//token")) is None


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        (
            lambda h: {**h, "Authorization": h["Authorization"][:-1] + "0"},
            "InvalidSignatureException",
        ),
        (lambda h: _signed(secret="another-secret"), "InvalidSignatureException"),
        (lambda h: _signed(region="us-east-1"), "InvalidSignatureException"),
        (lambda h: _signed(service="execute-apis"), "InvalidSignatureException"),
        (
            lambda h: {k: v for k, v in h.items() if k != "Authorization"},
            "MissingAuthenticationTokenException",
        ),
        (lambda h: {**h, "Authorization": "Bearer abc"}, "IncompleteSignatureException"),
        (
            lambda h: {
                **h,
                "Authorization": h["Authorization"].replace("AKIDEXAMPLE", "AKIDOTHER"),
            },
            "UnrecognizedClientException",
        ),
    ],
    ids=["signature", "secret", "region", "service", "missing", "not sigv4", "unknown key"],
)
def test_the_local_check_refuses_what_aws_refuses(change: Any, error_type: str) -> None:
    # Given a signed request, changed or signed wrongly
    headers = change(_signed())
    # Then the gateway refuses it with 403 and AWS's error type
    refusal = _check(headers)
    assert refusal is not None
    assert (refusal.status, refusal.error_type) == (403, error_type)


def test_the_local_check_covers_the_path_the_body_and_the_clock() -> None:
    headers = _signed()
    # When the request's path or body is not what was signed, or it arrives 6 minutes late
    refusals = [
        _check(headers, path="/prod/@connections/other%3D"),
        _check(headers, body=b'{"x": 1}'),
        _check(headers, skew=360),
    ]
    # Then each is refused
    assert [r.error_type if r else None for r in refusals] == ["InvalidSignatureException"] * 3
    assert "Signature expired" in refusals[2].message


def test_an_unsigned_payload_hash_does_not_stand_for_another_body() -> None:
    # Given a request botocore signed without an X-Amz-Content-SHA256 header (its body's hash
    # is in the signature)
    headers = _signed()
    assert "x-amz-content-sha256" not in headers["Authorization"].lower()
    # When another body arrives with that header added, unsigned, declaring the signed body's hash
    forged = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(b"{}").hexdigest()}
    refusal = _check(forged, body=b'{"x": 1}')
    # Then the check hashes the body it received, as AWS does, and refuses it
    assert refusal is not None
    assert refusal.error_type == "InvalidSignatureException"


_SEGMENT = st.lists(
    st.sampled_from([*"abcXYZ019-_.~@=+", "%2B", "%3D", "%20", "%2F", "%7E", ".", ".."]),
    max_size=6,
).map("".join)
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~%", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["POST", "GET", "DELETE", "post"]),
    segments=st.lists(_SEGMENT, min_size=1, max_size=5),
    trailing_slash=st.booleans(),
    query=st.lists(st.tuples(_WORD, st.text(alphabet="ab1%=", max_size=4)), max_size=3),
    extra=st.dictionaries(
        st.sampled_from(["content-type", "x-amz-target", "x-custom"]),
        st.text(alphabet=" ab\t;=/", min_size=1, max_size=8).filter(lambda v: v.strip()),
        max_size=2,
    ),
    body=st.binary(max_size=64),
    token=st.one_of(st.none(), st.just("IQoJb3JpZ2luX2VjE//token")),
    content_sha=st.booleans(),
)
def test_the_local_check_agrees_with_botocores_signer(
    method: str,
    segments: list[str],
    trailing_slash: bool,
    query: list[tuple[str, str]],
    extra: dict[str, str],
    body: bytes,
    token: str | None,
    content_sha: bool,
) -> None:
    # Given any request botocore's SigV4Auth signs: odd paths (escapes, dot and empty
    # segments), a query, headers with runs of white space, with and without a session token
    # or an X-Amz-Content-SHA256 header
    raw_path = "/" + "/".join(segments) + ("/" if trailing_slash else "")
    query_string = "&".join(f"{k}={v}" for k, v in query)
    url = f"https://{HOST}{raw_path}" + (f"?{query_string}" if query_string else "")
    headers = {"Host": HOST, **extra}
    if content_sha:
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"declared").hexdigest()
    request = AWSRequest(method, url, data=body, headers=headers)
    frozen = dt.datetime.fromtimestamp(NOW, dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        SigV4Auth(
            Credentials("AKIDEXAMPLE", SECRETS["AKIDEXAMPLE"], token), "execute-api", "eu-west-1"
        ).add_auth(request)
    sent = dict(request.headers.items())

    def check(**change: Any) -> Any:
        from local import sigv4

        arrived = {"path": raw_path, "body": body, "headers": sent, **change}
        return sigv4.check(
            method,
            arrived["path"],
            query_string,
            arrived["headers"],
            arrived["body"],
            secrets=SECRETS,
            region="eu-west-1",
            now=lambda: dt.datetime.fromtimestamp(NOW, dt.UTC),
        )

    # Then the gateway's check computes the same signature: it lets the request through
    assert check() is None
    # And refuses it once its path, or its body (unless the declared hash stands for it), or
    # its signature changes
    assert check(path=raw_path + "x") is not None
    if not content_sha:
        assert check(body=body + b"!") is not None
    wrong = sent["Authorization"][:-1] + ("0" if sent["Authorization"][-1] != "0" else "1")
    assert check(headers={**sent, "Authorization": wrong}) is not None
