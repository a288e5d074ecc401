"""Shared fixtures: moto's server in this process, provisioned from template.yaml.

``aws_endpoint`` starts moto once per session (once per xdist worker) and points boto3 at it;
``stack_resources`` creates every resource the template declares and exports the environment
variables the functions get from the template; ``clean_tables`` empties the tables after a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest

from local.aws import FAKE_CREDENTIALS, Provisioned, provision, reset_tables, start_moto
from local.lambda_api import RecordingInvoker, recording_app
from local.lambda_runtime import new_containers
from local.template import Template
from tests.log_leaks import LogLeakCheck

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Parameter overrides for tests, like `sam deploy --parameter-overrides`. eBay points at a
# closed loopback port so that nothing can reach the real eBay; a test that needs eBay starts
# the simulator and overrides EBAY_API_BASE_URL/EBAY_AUTH_URL itself.
TEST_PARAMETERS = {
    "Stage": "local",
    "EbayEnvironment": "local",
    "EbayApiBaseUrl": "http://127.0.0.1:9",
    "EbayAuthUrl": "http://127.0.0.1:9/oauth2/authorize",
    "DashboardUrl": "http://localhost:8000",
    # Never the real Postmark: a closed loopback port, unless a test serves the email sink.
    "PostmarkApiUrl": "http://127.0.0.1:9",
}


def pytest_configure(config: pytest.Config) -> None:
    # Every log line of the run is searched for tokens, secrets and email addresses.
    config.pluginmanager.register(LogLeakCheck(config), "log-leak-check")


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port; boto3 reaches it through AWS_ENDPOINT_URL."""
    moto = start_moto()
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_CREDENTIALS.items():
            env.setenv(name, value)
        env.setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
        yield moto.endpoint_url
    moto.stop()


@pytest.fixture(scope="session")
def lambda_invocations() -> Iterator[RecordingInvoker]:
    """Lambda's Invoke API that records instead of running: boto3's Lambda client reaches it
    through AWS_ENDPOINT_URL_LAMBDA. A running local stack points it at its own runtime."""
    from local.testing import serving_app

    app, invoker = recording_app()
    with serving_app(app) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_LAMBDA", url)
        yield invoker


@pytest.fixture(scope="session")
def stack_resources(
    aws_endpoint: str, lambda_invocations: RecordingInvoker
) -> Iterator[Provisioned]:
    """Every table, key, secret and user pool of template.yaml, created in moto.

    The functions' environment variables (USERS_TABLE, BIDS_TABLE, TOKEN_KMS_KEY_ID,
    EBAY_APP_SECRET_NAME, ...) are set in os.environ for the session.
    """
    template = Template.load(overrides=TEST_PARAMETERS)
    provisioned = provision(template, aws_endpoint)
    with pytest.MonkeyPatch.context() as env:
        for name, value in provisioned.environment().items():
            env.setenv(name, value)
        yield provisioned


@pytest.fixture
def clean_tables(stack_resources: Provisioned) -> Iterator[Provisioned]:
    """The provisioned stack; every table is emptied after the test."""
    yield stack_resources
    reset_tables(stack_resources)


@pytest.fixture
def dynamodb_client(aws_endpoint: str) -> DynamoDBClient:
    return boto3.client("dynamodb", endpoint_url=aws_endpoint)


@pytest.fixture(autouse=True, scope="module")
def fresh_containers() -> Iterator[None]:
    """Each test module starts with no cached adapters, as a new Lambda container would, so no
    module inherits clients bound to another module's tables, stack or simulator."""
    new_containers()
    yield
    new_containers()
