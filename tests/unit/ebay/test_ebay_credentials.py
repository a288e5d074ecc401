"""The app's eBay keyset comes from Secrets Manager (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from common.ebay import load_app_credentials, secret_credentials


@pytest.fixture
def secrets(aws_endpoint: str) -> Iterator[Any]:
    # moto's server, not mock_aws: mock_aws resets the in-process state that the session's
    # server shares, which would wipe the tables other tests in this worker rely on.
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_endpoint)
    client.create_secret(
        Name="ebay/app",
        SecretString=json.dumps(
            {"clientId": "app-id", "clientSecret": "shh", "ruName": "App-RuName"}
        ),
    )
    yield client
    client.delete_secret(SecretId="ebay/app", ForceDeleteWithoutRecovery=True)


def test_credentials_are_read_from_the_secret(secrets: Any) -> None:
    # Given the app keyset stored as JSON / When loaded
    provider = SecretsProvider(boto3_client=secrets)
    creds = load_app_credentials("ebay/app", provider=provider)
    # Then the fields map and the secret never prints
    assert creds.client_id == "app-id"
    assert creds.ru_name == "App-RuName"
    assert creds.client_secret.get_secret_value() == "shh"
    assert "shh" not in repr(creds)


def test_a_provider_reads_lazily(secrets: Any) -> None:
    load = secret_credentials("ebay/app", provider=SecretsProvider(boto3_client=secrets))
    assert load().client_id == "app-id"
