"""The Connections table against moto (created from template.yaml): rows, each user's index
item, $connect/$disconnect, expiry and account deletion."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from common.data.connections import INDEX_ITEM, ConnectionsRepository
from common.data.users import UsersRepository
from common.models import ConnectionEntity
from local.lambda_runtime import new_containers
from realtime.connection import on_connect, on_disconnect
from tests.stack_env import get_settings

pytestmark = pytest.mark.integration

HOUR = 3600


def _users_table() -> str:
    return get_settings().users_and_app_state_table


@pytest.fixture
def repo(clean_tables) -> Iterator[ConnectionsRepository]:
    new_containers()
    yield ConnectionsRepository(get_settings().connections_table)
    new_containers()


def _socket(connection_id: str, user: str, ttl: int | None = None) -> ConnectionEntity:
    return ConnectionEntity(
        connectionId=connection_id,
        userId=user,
        connectedAt=int(time.time() * 1000),
        ttl=ttl or int(time.time()) + 2 * HOUR,
    )


def _event(route: str, connection_id: str, user: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route,
        "connectionId": connection_id,
        "connectedAt": int(time.time() * 1000),
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
    }
    if user:
        context["authorizer"] = {"userId": user, "principalId": user}
    return {"requestContext": context}


def _items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def test_connect_and_disconnect_keep_rows_and_index_in_step(repo):
    # Given two sockets of user A and one of user B, opened through $connect
    for connection_id, user in (("a1=", "user-a"), ("a2=", "user-a"), ("b1=", "user-b")):
        assert on_connect(_event("$connect", connection_id, user), repo, _users_table(), 10) == {
            "statusCode": 200
        }
    # Then each user's sockets are found, by rows and by index, and a stranger has none
    assert sorted(repo.connection_ids("user-a")) == ["a1=", "a2="]
    found = repo.connection_ids_by_user(["user-a", "user-b", "user-c"])
    assert found == {"user-a": ["a1=", "a2="], "user-b": ["b1="], "user-c": []}
    # When one of A's sockets disconnects (its event carries the $connect authorizer's context)
    assert on_disconnect(_event("$disconnect", "a1=", "user-a"), repo) == {"statusCode": 200}
    # Then it is gone from both
    assert repo.connection_ids("user-a") == ["a2="]
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": ["a2="]}


def test_a_row_stores_what_connect_knows(repo):
    on_connect(_event("$connect", "a1=", "user-a"), repo, _users_table(), 10)
    (row,) = [i for i in _items(repo.table) if i["connectionId"]["S"] == "a1="]
    assert row["userId"] == {"S": "user-a"}
    assert row["sourceIp"] == {"S": "127.0.0.1"}
    assert row["userAgent"] == {"S": "pytest"}
    assert int(row["ttl"]["N"]) > time.time() + 2 * HOUR
    (index,) = [i for i in _items(repo.table) if i["connectionId"]["S"] == INDEX_ITEM]
    assert index["ttl"] == row["ttl"]  # the index expires with the last socket connected


def test_forgetting_a_socket_twice_or_of_a_user_without_sockets_is_not_an_error(repo):
    repo.put(_socket("a1=", "user-a"))
    repo.delete("user-a", "a1=")
    repo.delete("user-a", "a1=")
    # No index item is created for a user who has none (it would have no ttl)
    repo.delete("user-z", "z1=")
    assert [i["userId"]["S"] for i in _items(repo.table) if i["userId"]["S"] == "user-z"] == []
    assert repo.connection_ids_by_user(["user-a", "user-z"]) == {"user-a": [], "user-z": []}


def test_an_expired_index_names_no_sockets(repo):
    # Given user A's only socket connected more than 2 h 15 min ago (its ttl has passed, but
    # DynamoDB deletes expired items when it gets to them)
    repo.put(_socket("a1=", "user-a", ttl=int(time.time()) - 60))
    # Then the broadcaster finds no socket to post to
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": []}
    # And a later connect renews the index, which then names both until a 410 prunes a1=
    repo.put(_socket("a2=", "user-a"))
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": ["a1=", "a2="]}


def test_more_users_than_one_batch_get_holds(repo):
    # Given 150 users with one socket each (BatchGetItem takes 100 keys)
    users = [f"user-{n:03d}" for n in range(150)]
    for n, user in enumerate(users):
        repo.put(_socket(f"c{n}=", user))
    # When all are looked up at once
    found = repo.connection_ids_by_user(users)
    # Then every one is found
    assert found == {user: [f"c{n}="] for n, user in enumerate(users)}


def test_unprocessed_keys_are_asked_for_again(repo):
    # Given DynamoDB leaves the keys unprocessed once (throttling)
    repo.put(_socket("a1=", "user-a"))
    client = UnprocessedOnce(repo.client)
    slow = ConnectionsRepository(repo.table, client, sleep=lambda _s: None)  # type: ignore[arg-type]
    # When looked up, then the socket is still found, on the second call
    assert slow.connection_ids_by_user(["user-a"]) == {"user-a": ["a1="]}
    assert client.calls == 2


def test_deleting_a_users_connections_removes_rows_and_index(repo):
    repo.put(_socket("a1=", "user-a"))
    repo.put(_socket("a2=", "user-a"))
    repo.put(_socket("b1=", "user-b"))
    assert repo.delete_user_connections("user-a") == 2
    assert [i["userId"]["S"] for i in _items(repo.table)] == ["user-b", "user-b"]
    assert repo.connection_ids_by_user(["user-a", "user-b"]) == {"user-a": [], "user-b": ["b1="]}


class UnprocessedOnce:
    """A DynamoDB client whose first BatchGetItem processes nothing, as under throttling."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return self._client.batch_get_item(RequestItems=RequestItems)


def test_a_socket_of_an_account_whose_deletion_began_after_the_authorizer_is_not_recorded(repo):
    # Given a user whose account deletion marked the profile after the $connect authorizer let
    # the handshake through
    UsersRepository(_users_table()).mark_deleted("user-a", int(time.time() * 1000))
    # When $connect records the socket
    answer = on_connect(_event("$connect", "a1=", "user-a"), repo, _users_table(), 10)
    # Then the handshake is refused and nothing of the socket is stored, for the deletion's
    # sweep to miss; another user's socket is recorded
    assert answer == {"statusCode": 401}
    assert repo.connection_ids("user-a") == []
    assert repo.connection_ids_by_user(["user-a"]) == {"user-a": []}
    assert on_connect(_event("$connect", "b1=", "user-b"), repo, _users_table(), 10) == {
        "statusCode": 200
    }
