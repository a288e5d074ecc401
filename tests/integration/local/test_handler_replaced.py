"""The runtime's seam for running other code in a function (the chaos harness's executor)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.lambda_runtime import LambdaRuntime
from local.template import Template
from tests.events import http_event

GATEWAY_TEMPLATE = Path(__file__).with_name("gateway_template.yaml")


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(Template.load(GATEWAY_TEMPLATE, name_prefix="hr-"), max_workers=2)
    yield runtime
    runtime.shutdown()


def test_a_replaced_handler_runs_while_the_context_lasts_then_the_functions_own(
    runtime: LambdaRuntime,
) -> None:
    # Given a function, and other code for it
    def other(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"replaced": event["n"], "function": context.function_name}

    # When it is invoked inside and after the replacement
    with runtime.handler_replaced("PlainFunction", other):
        inside = runtime.invoke("PlainFunction", {"n": 1})
    after = runtime.invoke("PlainFunction", {"n": 2})

    # Then the other code ran inside, with the function's context, and its own after
    assert inside["replaced"] == 1
    assert "PlainFunction" in inside["function"]
    assert after == {"hello": "world"}
    assert runtime.stats["PlainFunction"].invocations == 2


def test_a_handler_cannot_be_replaced_in_a_container_process() -> None:
    # Given process isolation, where the runtime cannot hand an object to a container
    template = Template.load(GATEWAY_TEMPLATE, name_prefix="hp-")
    runtime = LambdaRuntime(template, max_workers=2, isolation="process")
    try:
        # When a handler is replaced, then the runtime refuses rather than run the function's own
        with (
            pytest.raises(ValueError, match="thread isolation"),
            runtime.handler_replaced("PlainFunction", lambda event, context: None),
        ):
            pass
    finally:
        runtime.shutdown()


def test_two_api_functions_never_answer_with_each_others_request(runtime: LambdaRuntime) -> None:
    # Given two functions behind the HTTP API, each a Powertools resolver, as every REST
    # function is: Powertools keeps the request's event on a class attribute that every
    # resolver in a process shares (BaseRouter.current_event)
    mine, theirs = APIGatewayHttpResolver(), APIGatewayHttpResolver()
    started, other_ran = threading.Event(), threading.Event()

    @mine.post("/things")
    def create_thing() -> dict[str, Any]:
        started.set()
        # A real wait, on purpose: the other function's request has this long to run meanwhile
        # if the runtime lets it; when it cannot, this request just goes on after it.
        other_ran.wait(timeout=1.0)
        return {"sub": mine.current_event.request_context.authorizer.jwt_claim["sub"]}

    @theirs.get("/open")
    def open_thing() -> dict[str, Any]:
        other_ran.set()
        return {"sub": theirs.current_event.request_context.authorizer.jwt_claim["sub"]}

    # When user A's request to one runs and user B's request to the other comes meanwhile
    with (
        runtime.handler_replaced("EchoFunction", mine.resolve),
        runtime.handler_replaced("PlainFunction", theirs.resolve),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        a = pool.submit(
            runtime.invoke, "EchoFunction", http_event("POST", "/things", body={}, user="user-a")
        )
        assert started.wait(timeout=10)
        b = pool.submit(runtime.invoke, "PlainFunction", http_event("GET", "/open", user="user-b"))
        answers = [json.loads(a.result()["body"]), json.loads(b.result()["body"])]
    # Then each is answered as its own user, as on Lambda, where a container serves one
    # request at a time: A's request was never read as B's
    assert answers == [{"sub": "user-a"}, {"sub": "user-b"}]
