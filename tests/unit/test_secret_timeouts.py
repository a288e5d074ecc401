"""A parameter read that Parameter Store does not answer in time is RetryableError, as every
other AWS call the product makes (common/aws.py), so the bid executor retries it instead of
ending its run (the N=200 snipe bench lost 70 runs to it)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from common import aws
from common.errors import RetryableError


def _ssm_answering(monkeypatch: pytest.MonkeyPatch, answer: Any) -> None:
    from aws_lambda_powertools.utilities import parameters

    client = boto3.client(
        "ssm", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=Config()
    )

    def get_parameter(**_kwargs: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(client, "get_parameter", get_parameter)
    provider = parameters.SSMProvider(boto3_client=client)
    monkeypatch.setattr(aws, "secrets_provider", lambda: provider)


def test_a_parameter_read_that_times_out_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Parameter Store, whose answer never comes
    _ssm_answering(monkeypatch, ReadTimeoutError(endpoint_url="http://ssm"))
    # When a secret is read, then the error says "try again"
    with pytest.raises(RetryableError):
        aws.get_secret("/stack/key", max_age=60)


def test_a_missing_parameter_is_not_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    # Given Parameter Store that answers with an error of its own (here: no such parameter)
    _ssm_answering(monkeypatch, ValueError("ParameterNotFound"))
    # When a secret is read, then Powertools' error comes back as before: no retry cures it
    with pytest.raises(GetParameterError):
        aws.get_secret("/stack/missing", max_age=60)


def test_a_parameter_that_answers_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Parameter Store that answers
    _ssm_answering(monkeypatch, {"Parameter": {"Value": "c2VjcmV0"}})
    # When a secret is read, then its value comes back
    assert aws.get_secret("/stack/ok", max_age=60) == "c2VjcmV0"
