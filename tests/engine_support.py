"""What a bid executor's snipe needs besides itself in tests: a linked profile (the seal checks
it, common.data.bids.BidsRepository.seal) and the group ports."""

from __future__ import annotations

import time
from typing import Any

from common.data.dynamo import default_client, to_item
from common.data.group_slots import GroupSlots
from common.data.groups import GroupsRepository
from tests.stack_env import get_settings


def linked_profile(user_id: str, ebay_user: str, client: Any = None) -> None:
    """Store a profile for ``user_id`` linked to the eBay account ``ebay_user``."""
    now = int(time.time() * 1000)
    (client or default_client()).put_item(
        TableName=get_settings().users_and_app_state_table,
        Item=to_item(
            {
                "userId": user_id,
                "email": f"{user_id}@example.com",
                "createdAt": now,
                "updatedAt": now,
                "ebayAccountId": ebay_user,
                "ebayLinkState": "LINKED",
            }
        ),
    )


def group_ports() -> dict[str, Any]:
    table = get_settings().users_and_app_state_table
    return {"groups": GroupsRepository(table), "slots": GroupSlots(table)}
