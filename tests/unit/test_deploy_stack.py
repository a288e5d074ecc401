"""deploy/stack.py (make deploy, make destroy) against moto: the parts that touch AWS directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy import stack
from local.template import load_yaml, secure_parameters

STACK = "unit-deploy-stack"


@pytest.fixture
def ssm(aws_endpoint: str) -> Iterator[Any]:
    client = boto3.client("ssm", region_name="us-east-1")
    yield client
    for parameter in secure_parameters(load_yaml()):
        try:
            client.delete_parameter(Name=parameter.name(STACK))
        except client.exceptions.ParameterNotFound:
            continue


def test_samconfig_names_the_stack_and_region(tmp_path: Path) -> None:
    # Given a samconfig.toml as `sam deploy --guided` writes it
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[prod.global.parameters]\nstack_name = "mine"\n'
        '[prod.deploy.parameters]\nregion = "eu-west-1"\n'
    )
    # Then the target is its stack in its region; an unknown env falls back to a default name
    assert stack.Target.read("prod", config) == stack.Target("prod", "mine", "eu-west-1")
    assert stack.Target.read("dev", config).stack_name == "ebay-sniper-dev"


def test_missing_parameters_are_created_and_the_keyset_asked_for_once(ssm: Any) -> None:
    # Given a new stack and someone at a terminal answering the questions
    answers = iter(["app-id", "cert-id", "Ru-Name", ""])
    asked: list[str] = []

    def ask(prompt: str, secret: bool) -> str:
        asked.append(prompt)
        return next(answers)

    # When the parameters are ensured
    created = stack.ensure_parameters(STACK, ssm, ask)
    # Then every declared one exists as a SecureString, the keyset holds the answers, the keys
    # are random and the Postmark token keeps its test value (Enter)
    names = {p.suffix: p.name(STACK) for p in secure_parameters(load_yaml())}
    assert set(created) == set(names.values())

    def value(suffix: str) -> str:
        found = ssm.get_parameter(Name=names[suffix], WithDecryption=True)["Parameter"]
        assert found["Type"] == "SecureString"
        return str(found["Value"])

    assert json.loads(value("ebay-app")) == {
        "clientId": "app-id",
        "clientSecret": "cert-id",
        "ruName": "Ru-Name",
    }
    assert json.loads(value("postmark")) == {"serverToken": "POSTMARK_API_TEST"}
    token_key = value("token-key")
    # And a second run asks only for what still holds its placeholder, and changes nothing else
    again = stack.ensure_parameters(STACK, ssm, lambda prompt, secret: "")
    assert again == []
    assert value("token-key") == token_key


def test_without_a_terminal_nothing_is_asked(ssm: Any) -> None:
    created = stack.ensure_parameters(STACK, ssm, None)
    assert len(created) == len(secure_parameters(load_yaml()))


def test_the_dashboard_bucket_is_emptied_before_the_stack_goes(aws_endpoint: str) -> None:
    # Given a bucket holding the dashboard's files
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="unit-dashboard-bucket")
    for key in ("index.html", "config.js", "js/app.js"):
        s3.put_object(Bucket="unit-dashboard-bucket", Key=key, Body=b"x")
    # When it is emptied / Then nothing is left, so CloudFormation can delete it
    assert stack.empty_bucket("unit-dashboard-bucket", s3) == 3
    assert s3.list_objects_v2(Bucket="unit-dashboard-bucket").get("KeyCount") == 0
    s3.delete_bucket(Bucket="unit-dashboard-bucket")
