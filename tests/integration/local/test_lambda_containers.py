"""The runtime's ``process`` isolation: each concurrent invocation in a container of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.lambda_containers import HandlerError
from local.lambda_runtime import FunctionError, FunctionTimeoutError, LambdaRuntime
from local.template import Template

GATEWAY_TEMPLATE = Path(__file__).with_name("gateway_template.yaml")


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    template = Template.load(GATEWAY_TEMPLATE, name_prefix="ct-")
    runtime = LambdaRuntime(template, max_workers=8, isolation="process")
    yield runtime
    runtime.shutdown()


def test_a_container_is_another_process_and_stays_warm(runtime: LambdaRuntime) -> None:
    # Given a function in process isolation
    # When it is invoked twice, one after the other
    first = runtime.invoke("ContainerFunction", {})
    second = runtime.invoke("ContainerFunction", {})

    # Then both ran in one container (module state carried over), not in this process
    assert first["pid"] == second["pid"] != os.getpid()
    assert (first["served"], second["served"]) == (1, 2)
    # And only the first was a cold start
    assert runtime.stats["ContainerFunction"].cold_starts == 1
    assert runtime.stats["ContainerFunction"].invocations == 2
    assert runtime.containers("ContainerFunction") == 1


def test_concurrent_invocations_get_containers_of_their_own(runtime: LambdaRuntime) -> None:
    # Given three invocations at once, each busy for a while
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(lambda _: runtime.invoke("ContainerFunction", {"sleep": 0.5}), range(3))
        )

    # Then each had a container (process) of its own, each a cold start
    assert len({a["pid"] for a in answers}) == 3
    assert [a["served"] for a in answers] == [1, 1, 1]
    assert runtime.stats["ContainerFunction"].cold_starts == 3


def test_a_handler_error_is_reported_and_the_container_lives_on(
    runtime: LambdaRuntime,
) -> None:
    # When the handler raises
    with pytest.raises(FunctionError) as raised:
        runtime.invoke("BoomFunction", {})

    # Then the caller learns the error's type and message, as from Lambda
    assert isinstance(raised.value.error, HandlerError)
    assert raised.value.error.error_type == "RuntimeError"
    assert runtime.stats["BoomFunction"].errors == 1
    # And the container is kept for the next invocation
    assert runtime.containers("BoomFunction") == 1


def test_a_handler_past_its_timeout_is_killed_with_its_container(runtime: LambdaRuntime) -> None:
    # Given a function whose Timeout (1 s) is shorter than its work (1.5 s)
    # When it is invoked
    with pytest.raises(FunctionTimeoutError, match=r"Task timed out after 1\.00 seconds"):
        runtime.invoke("SlowFunction", {})

    # Then its container is gone: the next invocation starts a fresh one
    assert runtime.containers("SlowFunction") == 0
    assert runtime.stats["SlowFunction"].timeouts == 1


def test_a_result_json_cannot_carry_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    with pytest.raises(FunctionError) as raised:
        runtime.invoke("UnmarshalableFunction", {})
    assert isinstance(raised.value.error, HandlerError)
    assert raised.value.error.error_type == "Runtime.MarshalError"


def test_an_event_invocation_runs_in_a_container(runtime: LambdaRuntime) -> None:
    # When invoked with the Event invocation type
    answer = runtime.submit("ContainerFunction", {}).result(timeout=30)

    # Then a container served it
    assert answer["pid"] != os.getpid()


def test_in_threads_an_api_function_serves_one_request_at_a_time() -> None:
    # Given the thread isolation, and a function behind an HTTP API route
    template = Template.load(GATEWAY_TEMPLATE, name_prefix="th-")
    runtime = LambdaRuntime(template, max_workers=8)
    try:
        # When three requests reach it at once
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: runtime.invoke("CountedFunction", {}), range(3)))
    finally:
        runtime.shutdown()
    # Then they ran one after another, as in one container: never two handlers on one event
    assert max(int(a["body"]) for a in answers) == 1
