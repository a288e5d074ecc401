"""The one-time backfill of the ACTIVESNIPES sets: every active snipe in its owner's set.

The sets are written by the create and transition transactions (common/data/active_snipes.py),
so a snipe created before its stack kept them is not in its owner's set until it ends, and the
reads that follow what is active (sync, the wish list's flags, GET /groups, GET /bids, the
unlink's count, the executor's group look-ups) would not see it. ``deploy/stack.py deploy`` runs
this right after ``sam deploy``, once the deployed code keeps the sets.

Why a migration the deploy runs, and not a backfill on each user's first read:

- **What it reads.** It pages ``ActiveByEndTime``, the sparse index of active snipes across all
  users: its cost follows what is active. A backfill on first read must find a user's snipes
  that are not in the set, which only a Query of their whole partition can: the very read of
  the history this set exists to avoid, in the request of whoever reads first.
- **Permissions.** The read paths stay reads. A backfill on read gives every function that
  reads the set (the WebSocket's default route, the wish list, the executor...) a Query of the
  Bids table and a transaction on both tables, and each read a check that the user was done.
- **Idempotent, and re-run every deploy.** Each page's owners' sets are read first (one
  BatchGetItem per 100 owners) and only a snipe missing from its set is written: a second run
  reads the active snipes and writes nothing.

Each write is a transaction: ``ADD`` of the id to the set with a ConditionCheck that the snipe
is still active (``activeShard`` exists: the index is eventually consistent, the check is not)
and that the account is not being deleted. A snipe that ends meanwhile is either refused here
or removed by its own transition after this write, never left behind (transactions serialize).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.active_snipes import BATCH_GET_LIMIT, active_snipes_key
from common.data.bids import ACTIVE_INDEX
from common.data.dynamo import (
    cancellation_codes,
    cancelled_by,
    repository_client,
    translate_errors,
)
from common.data.users import account_not_deleted
from common.errors import RetryableError
from common.models import ACTIVE_SHARD

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WRITE_ATTEMPTS = 3  # a transaction that met another on the same item is tried again


@dataclass
class Backfilled:
    active: int = 0  # active snipes the index listed
    added: int = 0  # of them, put in their owner's set
    ended: int = 0  # refused: ended (or their account began its deletion) before the write


def backfill_active_sets(
    client: DynamoDBClient, users_and_app_state_table: str, bids_table: str, page_size: int = 100
) -> Backfilled:
    """Put every active snipe that is missing from its owner's ACTIVESNIPES set into it."""
    client = repository_client(client)
    report = Backfilled()
    for page in _active_pages(client, bids_table, page_size):
        report.active += len(page)
        held = _held(client, users_and_app_state_table, sorted({user for user, _ in page}))
        for user_id, bid_id in page:
            if bid_id in held.get(user_id, set()):
                continue
            if _add(client, users_and_app_state_table, bids_table, user_id, bid_id):
                report.added += 1
            else:
                report.ended += 1
    return report


def _active_pages(
    client: DynamoDBClient, bids_table: str, page_size: int
) -> Iterator[list[tuple[str, str]]]:
    """(userId, bidId) of the active snipes, a page of the sparse index at a time."""
    kwargs: dict[str, Any] = {
        "TableName": bids_table,
        "IndexName": ACTIVE_INDEX,
        "KeyConditionExpression": "activeShard = :a",
        "ExpressionAttributeValues": {":a": {"S": ACTIVE_SHARD}},
        "ProjectionExpression": "userId, bidId",
        "Limit": page_size,
    }
    while True:
        with translate_errors():
            result = client.query(**kwargs)
        yield [(i["userId"]["S"], i["bidId"]["S"]) for i in result.get("Items", [])]
        if not result.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = result["LastEvaluatedKey"]


def _held(
    client: DynamoDBClient, users_and_app_state_table: str, user_ids: list[str]
) -> dict[str, set[str]]:
    """Each user's set of active snipe ids as stored now."""
    held: dict[str, set[str]] = {}
    for start in range(0, len(user_ids), BATCH_GET_LIMIT):
        keys = [
            {"userId": {"S": active_snipes_key(u)}}
            for u in user_ids[start : start + BATCH_GET_LIMIT]
        ]
        request: dict[str, Any] = {
            users_and_app_state_table: {"Keys": keys, "ProjectionExpression": "userId, bidIds"}
        }
        while request.get(users_and_app_state_table):
            with translate_errors():
                result = client.batch_get_item(RequestItems=request)
            for item in result.get("Responses", {}).get(users_and_app_state_table, []):
                owner = item["userId"]["S"].removeprefix(active_snipes_key(""))
                held[owner] = set(item.get("bidIds", {}).get("SS", []))
            request = dict(result.get("UnprocessedKeys") or {})
    return held


def _add(
    client: DynamoDBClient,
    users_and_app_state_table: str,
    bids_table: str,
    user_id: str,
    bid_id: str,
) -> bool:
    """Add one still active snipe to its owner's set; False if it ended (or the account is
    being deleted) first."""
    items: list[Any] = [
        {
            "ConditionCheck": {
                "TableName": bids_table,
                "Key": {"userId": {"S": user_id}, "bidId": {"S": bid_id}},
                "ConditionExpression": "attribute_exists(activeShard)",
            }
        },
        {
            "Update": {
                "TableName": users_and_app_state_table,
                "Key": {"userId": {"S": active_snipes_key(user_id)}},
                "UpdateExpression": "ADD bidIds :id SET ownerId = :owner",
                "ExpressionAttributeValues": {":id": {"SS": [bid_id]}, ":owner": {"S": user_id}},
            }
        },
        account_not_deleted(users_and_app_state_table, user_id),
    ]
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            if cancelled_by(exc):
                return False
            if "TransactionConflict" not in cancellation_codes(exc):
                with translate_errors():
                    raise
    raise RetryableError("The snipes changed while they were backfilled; run it again")
