"""The runtime's seam for running other code in a function (the chaos harness's executor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import LambdaRuntime
from local.template import Template

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
