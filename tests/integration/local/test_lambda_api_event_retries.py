"""An ``Event`` invocation through the local Invoke API gets Lambda's asynchronous retries: a run
that fails is retried with its request id, per the function's EventInvokeConfig, and one that
keeps failing ends in its on-failure destination (local/lambda_api.py, local/lambda_runtime.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web

from local.aws import provision
from local.lambda_api import RuntimeInvoker, lambda_routes
from local.lambda_runtime import EventInvoker, LambdaRuntime
from local.template import Template
from local.testing import serving_app
from tests.integration.chaos import flaky_handlers
from tests.polling import eventually

pytestmark = pytest.mark.integration

# A function that fails on request, with one retry and an on-failure queue.
TEMPLATE = Path(__file__).parents[1] / "chaos" / "delivery_template.yaml"


class World:
    def __init__(self, template: Template, events: EventInvoker, lambda_client: Any) -> None:
        self.template = template
        self.events = events
        self.lambda_client = lambda_client

    def invoke_event(self, payload: dict[str, Any]) -> int:
        answer = self.lambda_client.invoke(
            FunctionName=self.template.refs["FlakyFunction"],
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )
        return int(answer["StatusCode"])

    def failures(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        url = self.template.refs["FailureQueue"]
        found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in found:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in found]


@pytest.fixture(scope="module")
def world(aws_endpoint: str) -> Iterator[World]:
    template = Template.load(TEMPLATE, name_prefix="event-retries-")
    provision(template, aws_endpoint)
    runtime = LambdaRuntime(template, max_workers=4)
    events = EventInvoker(template, runtime, boto3.client("sqs"), retry_delays=(0.2,))
    app = web.Application()
    app.add_routes(lambda_routes(RuntimeInvoker(template, runtime, events)))
    with serving_app(app) as url:
        yield World(template, events, boto3.client("lambda", endpoint_url=url))
    events.shutdown()
    runtime.shutdown()


def test_an_event_whose_first_run_fails_is_retried_with_its_request_id(world: World) -> None:
    # Given a function whose first run of an event fails (EventInvokeConfig: one retry)
    key = f"once-{uuid.uuid4().hex[:6]}"
    # When it is invoked with the Event type
    status = world.invoke_event({"key": key, "fail": "once"})
    # and every run and retry of it is over (a third run would be pending or running)
    assert eventually(lambda: len(flaky_handlers.runs_of(key)) == 2 and world.events.idle())
    # Then the invocation was accepted, and Lambda's retry ran it again with the same request
    # id; nothing went to the on-failure queue
    assert status == 202
    first, retry = flaky_handlers.runs_of(key)
    assert first == retry
    assert world.failures() == []


def test_an_event_that_keeps_failing_ends_in_the_on_failure_destination(world: World) -> None:
    # Given a function that fails every run of an event
    key = f"always-{uuid.uuid4().hex[:6]}"
    given_up = world.events.stats.async_given_up
    # When it is invoked with the Event type
    assert world.invoke_event({"key": key, "fail": "always"}) == 202
    assert eventually(lambda: world.events.stats.async_given_up > given_up)
    # Then it ran twice (the run and its one retry, one request id) and Lambda's invocation
    # record is in the on-failure queue
    runs = flaky_handlers.runs_of(key)
    assert len(runs) == 2
    assert len(set(runs)) == 1
    [record] = world.failures()
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == runs[0]
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"key": key, "fail": "always"}
