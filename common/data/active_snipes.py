"""Each user's active snipes, counted exactly, for the per-user cap (MAX_ACTIVE_SNIPES_PER_USER).

``ACTIVESNIPES#<userId>`` on the Users table (``ownerId`` names the user, so account deletion
finds it through the ByOwner index) holds ``bidIds``, the string set of the user's active
snipes:

- ``BidsRepository.create`` adds the new snipe's id in its transaction, on the condition that
  the set holds fewer than the cap, so two creates racing for the last slot cannot both win;
- the ``transition`` that takes a snipe out of the active statuses removes its id in its
  transaction, beside the one-active-snipe guard.

A set rather than a number: adding an id twice or removing an absent one changes nothing, so
the count cannot drift. A snipe stored before the set existed is put in it by the backfill the
deploy runs (common/data/active_backfill.py). A user has at most the cap of ids, 23 characters
each (200: ~5 KB).

The set is also how the hot reads find a user's active snipes (``read_active``, through
``BidsRepository.active_snipes``): the WebSocket's sync, the wish list's flags, GET /groups
and the executor's group look-ups read the snipes it names, never the user's history.

``retryAt`` (epoch seconds) remembers when the soonest of the user's active snipes ends, as the
last refusal found it, so a client retrying against the cap costs one read, not a read of every
active snipe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.data.dynamo import (
    raise_if_cancelled_by,
    repository_client,
    to_value,
    translate_errors,
)
from common.errors import FieldIssue, RetryableError, TooManyActiveSnipes
from common.models import BidStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100
READ_ATTEMPTS = 8  # read_active: BatchGetItems of what DynamoDB left unprocessed, with backoff


def active_snipes_key(user_id: str) -> str:
    return f"ACTIVESNIPES#{user_id}"


def take_slot(
    users_and_app_state_table: str, user_id: str, bid_id: str, max_active: int | None
) -> dict[str, Any]:
    """A transaction item adding ``bid_id`` to the user's active snipes; with ``max_active``,
    only if they hold fewer (the transaction is then cancelled on this item)."""
    update: dict[str, Any] = {
        "TableName": users_and_app_state_table,
        "Key": {"userId": {"S": active_snipes_key(user_id)}},
        "UpdateExpression": "ADD bidIds :id SET ownerId = :owner",
        "ExpressionAttributeValues": {":id": {"SS": [bid_id]}, ":owner": {"S": user_id}},
    }
    if max_active is not None:
        update["ConditionExpression"] = "attribute_not_exists(bidIds) OR size(bidIds) < :max"
        update["ExpressionAttributeValues"][":max"] = to_value(max_active)
    return {"Update": update}


def raise_if_no_slot(exc: ClientError, index: int, max_active: int | None) -> None:
    """TooManyActiveSnipes if ``exc`` cancelled a transaction on its take_slot item, at
    ``index``. Its Retry-After is a placeholder: when a slot frees is the caller's to find."""
    raise_if_cancelled_by(
        exc,
        index,
        TooManyActiveSnipes(
            f"You have {max_active} active snipes, the most one account may have; "
            "cancel one or wait until one of their auctions ends",
            [FieldIssue("ebayItemId", f"at most {max_active} active snipes")],
        ),
    )


def release_slot(users_and_app_state_table: str, user_id: str, bid_id: str) -> dict[str, Any]:
    """A transaction item removing ``bid_id`` from the user's active snipes. Unconditional: a
    snipe that was never counted (stored before the count existed) must still end."""
    return {
        "Update": {
            "TableName": users_and_app_state_table,
            "Key": {"userId": {"S": active_snipes_key(user_id)}},
            "UpdateExpression": "DELETE bidIds :id SET ownerId = :owner",
            "ExpressionAttributeValues": {":id": {"SS": [bid_id]}, ":owner": {"S": user_id}},
        }
    }


class ActiveSnipes:
    """Reads of the count; the writes are the transaction items above."""

    def __init__(
        self, users_and_app_state_table: str, bids_table: str, client: DynamoDBClient | None = None
    ) -> None:
        self.users_and_app_state_table = users_and_app_state_table
        self.bids_table = bids_table
        self.client = repository_client(client)

    def count(self, user_id: str) -> int:
        return len(self._bid_ids(self._read(user_id)))

    def soonest_end(self, user_id: str, now: int) -> int | None:
        """Epoch second at which the soonest-ending of the user's active snipes ends (None if
        they have none): the remembered ``retryAt`` while it is still ahead, else read from the
        snipes themselves and remembered."""
        item = self._read(user_id)
        remembered = int(item.get("retryAt", {}).get("N", "0"))
        if remembered > now:
            return remembered
        ids = sorted(self._bid_ids(item))
        ends = [
            int(bid["auctionEndTime"]["N"])
            for start in range(0, len(ids), BATCH_GET_LIMIT)
            for bid in self._snipes(user_id, ids[start : start + BATCH_GET_LIMIT])
            if BidStatus(bid["status"]["S"]).is_active
        ]
        if not ends:
            return None
        soonest = min(ends)
        with translate_errors():
            self.client.update_item(
                TableName=self.users_and_app_state_table,
                Key={"userId": {"S": active_snipes_key(user_id)}},
                UpdateExpression="SET retryAt = :at, ownerId = :owner",
                ExpressionAttributeValues={":at": to_value(soonest), ":owner": {"S": user_id}},
            )
        return soonest

    def _read(self, user_id: str) -> dict[str, Any]:
        with translate_errors():
            return (
                self.client.get_item(
                    TableName=self.users_and_app_state_table,
                    Key={"userId": {"S": active_snipes_key(user_id)}},
                    ConsistentRead=True,
                ).get("Item")
                or {}
            )

    @staticmethod
    def _bid_ids(item: dict[str, Any]) -> list[str]:
        return list(item.get("bidIds", {}).get("SS", []))

    def _snipes(self, user_id: str, bid_ids: list[str]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            self.bids_table: {
                "Keys": [{"userId": {"S": user_id}, "bidId": {"S": b}} for b in bid_ids],
                "ProjectionExpression": "auctionEndTime, #st",
                "ExpressionAttributeNames": {"#st": "status"},
            }
        }
        found: list[dict[str, Any]] = []
        # Unprocessed keys are asked again at once: this runs only when a user is at the cap.
        for _attempt in range(5):
            with translate_errors():
                result = self.client.batch_get_item(RequestItems=request)
            found += result.get("Responses", {}).get(self.bids_table, [])
            request = dict(result.get("UnprocessedKeys") or {})
            if not request:
                break
        return found


def count_active(client: DynamoDBClient, users_and_app_state_table: str, user_id: str) -> int:
    """How many active snipes the user has: the size of their set, one strongly consistent
    GetItem whatever their history holds."""
    return len(_active_ids(client, users_and_app_state_table, user_id))


def read_active(
    client: DynamoDBClient,
    users_and_app_state_table: str,
    bids_table: str,
    user_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The stored snipes the user's set names (raw items): one GetItem, then one BatchGetItem per
    100 ids, all strongly consistent, so a snipe created or ended a moment ago is in or out
    already. What it reads follows the active snipes (at most the cap), never the user's
    history. What DynamoDB leaves unprocessed is asked again with backoff, then RetryableError."""
    ids = sorted(_active_ids(client, users_and_app_state_table, user_id))
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        found += _get_snipes(
            client, bids_table, user_id, ids[start : start + BATCH_GET_LIMIT], sleep
        )
    return found


def read_active_page(
    client: DynamoDBClient,
    users_and_app_state_table: str,
    bids_table: str,
    user_id: str,
    keep: Callable[[dict[str, Any]], bool],
    limit: int,
    after: str | None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the stored snipes the user's set names, newest first (ids are time-sortable),
    those ``keep`` accepts, at most ``limit``, starting below the id ``after``; and the id to
    start the next page after (None when no id is left). Reads the set, then only the snipes
    the page looks at: ``limit`` of them, more only where ``keep`` refused some, never more than
    the set names, however long the user's history."""
    ids = sorted(
        (
            i
            for i in _active_ids(client, users_and_app_state_table, user_id)
            if after is None or i < after
        ),
        reverse=True,
    )
    page: list[dict[str, Any]] = []
    looked = 0
    while looked < len(ids) and len(page) < limit:
        batch = ids[looked : looked + min(limit - len(page), BATCH_GET_LIMIT)]
        looked += len(batch)
        found = _get_snipes(client, bids_table, user_id, batch, sleep)
        page += sorted(filter(keep, found), key=lambda item: str(item["bidId"]["S"]), reverse=True)
    return page, ids[looked - 1] if looked < len(ids) else None


def _active_ids(client: DynamoDBClient, users_and_app_state_table: str, user_id: str) -> list[str]:
    with translate_errors():
        item = client.get_item(
            TableName=users_and_app_state_table,
            Key={"userId": {"S": active_snipes_key(user_id)}},
            ConsistentRead=True,
            ProjectionExpression="bidIds",
        ).get("Item")
    return list((item or {}).get("bidIds", {}).get("SS", []))


def _get_snipes(
    client: DynamoDBClient,
    bids_table: str,
    user_id: str,
    bid_ids: list[str],
    sleep: Callable[[float], None],
) -> list[dict[str, Any]]:
    """The snipes of ``bid_ids`` (at most 100) that exist, strongly consistent. What DynamoDB
    leaves unprocessed is asked again with backoff, then RetryableError."""
    keys = [{"userId": {"S": user_id}, "bidId": {"S": b}} for b in bid_ids]
    request: dict[str, Any] = {bids_table: {"Keys": keys, "ConsistentRead": True}}
    found: list[dict[str, Any]] = []
    for attempt in range(READ_ATTEMPTS):
        with translate_errors():
            result = client.batch_get_item(RequestItems=request)
        found += result.get("Responses", {}).get(bids_table, [])
        request = dict(result.get("UnprocessedKeys") or {})
        if not request.get(bids_table):
            return found
        sleep(0.025 * 2**attempt * (0.5 + random.random()))
    raise RetryableError("The database was busy; try again")
