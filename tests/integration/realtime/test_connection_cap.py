"""The per-user cap on open WebSockets (MAX_CONNECTIONS_PER_USER) at $connect, against moto's
Connections table (from template.yaml): refused with 429 beyond it, exact under concurrent
connects, and not held up by sockets whose $disconnect never came."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from common.data.connections import ConnectionsRepository
from local.lambda_runtime import new_containers
from realtime.connection import on_connect, on_disconnect
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration
CAP = 3


@pytest.fixture
def repo(clean_tables) -> Iterator[ConnectionsRepository]:
    new_containers()
    yield ConnectionsRepository(get_settings().connections_table)
    new_containers()


def _event(route: str, connection_id: str, user: str, connected_at: int | None = None):
    context: dict[str, Any] = {
        "routeKey": route,
        "connectionId": connection_id,
        "connectedAt": connected_at or int(time.time() * 1000),
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
        "authorizer": {"userId": user, "principalId": user},
    }
    return {"requestContext": context}


def _connect(repo: ConnectionsRepository, connection_id: str, user: str = "user-a", **kw) -> int:
    event = _event("$connect", connection_id, user, **kw)
    return int(on_connect(event, repo, get_settings().users_and_app_state_table, CAP)["statusCode"])


def test_a_user_beyond_the_cap_is_refused_with_429_until_a_socket_closes(repo):
    # Given a user with 3 sockets open, the cap
    assert [_connect(repo, f"a{n}=") for n in range(CAP)] == [200, 200, 200]
    # When they open a fourth / Then the handshake is refused with 429 and nothing is recorded
    assert _connect(repo, "a9=") == 429
    assert sorted(repo.connection_ids("user-a")) == ["a0=", "a1=", "a2="]
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": ["a0=", "a1=", "a2="]}
    # and another user is not affected
    assert _connect(repo, "b0=", "user-b") == 200
    # When one of theirs closes / Then a new one is accepted
    on_disconnect(_event("$disconnect", "a0=", "user-a"), repo)
    assert _connect(repo, "a9=") == 200


def test_a_retried_connect_of_a_counted_socket_passes(repo):
    # Given a user at the cap / When $connect runs again for one of those sockets (a retry)
    for n in range(CAP):
        _connect(repo, f"a{n}=")
    # Then it is not refused
    assert _connect(repo, "a1=") == 200


def test_concurrent_connects_never_pass_the_cap(repo):
    # When eight sockets of one user connect at once
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda n: _connect(repo, f"a{n}="), range(8)))
    # Then exactly three were accepted, and exactly those are recorded
    assert statuses == [200] * CAP + [429] * (8 - CAP)
    assert len(repo.connection_ids("user-a")) == CAP
    assert len(repo.connection_ids_by_user(["user-a"])["user-a"]) == CAP


def test_sockets_that_cannot_be_open_any_more_do_not_count(repo):
    # Given a user's index naming 3 sockets whose $disconnect never came: one whose row is gone
    # (expired) and two connected more than API Gateway's 2 hours ago
    long_ago = int((time.time() - 2 * 3600 - 60) * 1000)
    _connect(repo, "gone=")
    _connect(repo, "old1=", connected_at=long_ago)
    _connect(repo, "old2=", connected_at=long_ago)
    boto3.client("dynamodb").delete_item(
        TableName=repo.table, Key={"userId": {"S": "user-a"}, "connectionId": {"S": "gone="}}
    )
    # When the user connects / Then they are let in, and the closed ones are forgotten
    assert _connect(repo, "new=") == 200
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": ["new="]}
