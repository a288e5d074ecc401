"""The app's eBay keyset comes from an SSM SecureString parameter (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider

from common.ebay.credentials import load_app_credentials, secret_credentials

NAME = "/unit-tests/ebay-app"


@pytest.fixture
def ssm(aws_endpoint: str) -> Iterator[Any]:
    # moto's server, not mock_aws: mock_aws resets the in-process state that the session's
    # server shares, which would wipe the tables other tests in this worker rely on.
    client = boto3.client("ssm", region_name="us-east-1", endpoint_url=aws_endpoint)
    client.put_parameter(
        Name=NAME,
        Type="SecureString",
        Value=json.dumps({"clientId": "app-id", "clientSecret": "shh", "ruName": "App-RuName"}),
        Overwrite=True,
    )
    yield client
    client.delete_parameter(Name=NAME)


def test_credentials_are_read_from_the_parameter(ssm: Any) -> None:
    # Given the app keyset stored as JSON in a SecureString / When loaded
    creds = load_app_credentials(NAME, provider=SSMProvider(boto3_client=ssm))
    # Then the fields map and the secret never prints
    assert creds.client_id == "app-id"
    assert creds.ru_name == "App-RuName"
    assert creds.client_secret.get_secret_value() == "shh"
    assert "shh" not in repr(creds)


def test_a_provider_reads_lazily(ssm: Any) -> None:
    load = secret_credentials(NAME, provider=SSMProvider(boto3_client=ssm))
    assert load().client_id == "app-id"
