"""Hostile input against the whole local stack: gateway, authorizers, handlers, moto, simulator.

Each module gets its own running stack inside the session's moto; users sign up and log in
through ``/local/signup`` and ``/local/login`` as the dashboard does (hostile_helpers.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.lambda_runtime import new_containers
from local.testing import RunningStack, running_stack


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    new_containers()
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack
    new_containers()
