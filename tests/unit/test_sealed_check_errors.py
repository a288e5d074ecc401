"""A write refused while a seal may hold reads the profile to say which condition refused it
(``common.data.users.raise_if_sealed``). DynamoDB throttling that read is RetryableError (503),
as everywhere in the data layer, not botocore's ClientError left raw (a 500 naming nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from common.data.ebay_links import EbayLinksRepository, NewLink
from common.data.users import UsersRepository
from common.errors import RetryableError

NOW_MS = 1_900_000_000_000
USER = "user-1"
TABLE = "Users"


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with Stubber(client) as stubber:
        yield client, stubber


def _refused_then_throttled(stubber: Stubber, write: str, items: int) -> None:
    """``write`` refused on its first item's condition, then the profile read throttled."""
    if write == "transact_write_items":
        stubber.add_client_error(
            write,
            service_error_code="TransactionCanceledException",
            response_meta={},
            modeled_fields={
                "CancellationReasons": [{"Code": "ConditionalCheckFailed"}]
                + [{"Code": "None"}] * (items - 1)
            },
        )
    else:
        stubber.add_client_error(write, service_error_code="ConditionalCheckFailedException")
    stubber.add_client_error("get_item", service_error_code="ThrottlingException")


CASES: dict[str, tuple[str, int, Callable[[Any], Any]]] = {
    "link another account": (
        "transact_write_items",
        2,
        lambda client: EbayLinksRepository(TABLE, client).link(
            USER, NewLink("ebay-b", "env", NOW_MS, NOW_MS + 1, NOW_MS + 2), None
        ),
    ),
    "unlink": (
        "transact_write_items",
        2,
        lambda client: EbayLinksRepository(TABLE, client).unlink(USER, "ebay-a", NOW_MS),
    ),
    "mark the account deleted": (
        "update_item",
        1,
        lambda client: UsersRepository(TABLE, client).mark_deleted(USER, NOW_MS),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_throttled_read_of_the_seal_is_retryable(stubbed, case):
    client, stubber = stubbed
    write, items, call = CASES[case]
    # Given a write refused on the profile's condition, and DynamoDB throttling the read that
    # would say whether a seal refused it
    _refused_then_throttled(stubber, write, items)
    # When the repository answers / Then it is RetryableError (503: try again), not a raw
    # ClientError
    with pytest.raises(RetryableError):
        call(client)
