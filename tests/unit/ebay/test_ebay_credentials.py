"""The app's eBay keyset comes from Secrets Manager (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from moto import mock_aws

from common.ebay import load_app_credentials, secret_credentials


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(
            Name="ebay/app",
            SecretString=json.dumps(
                {"clientId": "app-id", "clientSecret": "shh", "ruName": "App-RuName"}
            ),
        )
        yield client


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
