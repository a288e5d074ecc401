"""common.sigv4 signs @connections requests exactly as botocore's SigV4Auth does."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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
