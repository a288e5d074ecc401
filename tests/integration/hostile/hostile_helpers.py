"""Users, auctions and clients for the hostile-input tests, on a running local stack."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from local.aws import client
from local.testing import RunningStack

PASSWORD = "Hostile-Pass-123"


@dataclass(frozen=True)
class User:
    email: str
    sub: str
    id_token: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token}"}


def sign_up(running: RunningStack, prefix: str) -> User:
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    base = running.base_url
    httpx.post(f"{base}/local/signup", json={"email": email, "password": PASSWORD}, timeout=30)
    tokens = httpx.post(
        f"{base}/local/login", json={"username": email, "password": PASSWORD}, timeout=30
    ).json()
    claims = jwt.decode(tokens["idToken"], options={"verify_signature": False})
    return User(
        email=email,
        sub=claims["sub"],
        id_token=tokens["idToken"],
        access_token=tokens["accessToken"],
        refresh_token=tokens["refreshToken"],
    )


def new_auction(running: RunningStack, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Hasselblad 500C/M",
        "startPrice": 1500,
        "endsInSeconds": 3600,
    }
    payload.update(fields)
    response = httpx.post(f"{running.sim_url}/_sim/auctions", json=payload, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def api(running: RunningStack) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30)


def _items(running: RunningStack, table: str, user_id: str) -> list[dict[str, Any]]:
    from common.data.dynamo import from_item

    provisioned = running.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    pages = dynamodb.get_paginator("query").paginate(
        TableName=provisioned.tables[table].name,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ConsistentRead=True,
    )
    return [from_item(item) for page in pages for item in page["Items"]]


def _group_rules(running: RunningStack, user_id: str) -> dict[str, Any]:
    """The user's group rules (common/data/groups.py), by group id."""
    from common.data.dynamo import from_item

    provisioned = running.stack.provisioned
    assert provisioned is not None
    dynamodb = client("dynamodb", provisioned.endpoint_url)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=provisioned.tables["UsersTable"].name,
        FilterExpression="begins_with(userId, :p)",
        ExpressionAttributeValues={":p": {"S": f"group#{user_id}#"}},
        ConsistentRead=True,
    )
    items = [from_item(item) for page in pages for item in page["Items"]]
    return {i["groupId"]: (i.get("groupMode"), i.get("groupLimit")) for i in items}


def footprint(running: RunningStack, user: User) -> dict[str, Any]:
    """What a request of the user could have written: the profile's user-controlled fields,
    each snipe's changeable fields and status, the ids of every history entry and the group
    rules. Fields that background workers own (prices, token refresh, group slots) are left
    out, so the comparison is stable."""
    users = _items(running, "UsersTable", user.sub)
    profile = (
        {
            key: users[0].get(key)
            for key in ("email", "displayName", "preferences", "ebayAccountId", "isActive")
        }
        if users
        else None
    )
    bids = {
        bid["bidId"]: {
            key: bid.get(key)
            for key in ("maxBidAmount", "leadSeconds", "groupId", "status", "fireAt", "currency")
        }
        for bid in _items(running, "BidsTable", user.sub)
    }
    history = sorted(entry["historyId"] for entry in _items(running, "BidHistoryTable", user.sub))
    groups = _group_rules(running, user.sub)
    return {"profile": profile, "bids": bids, "history": history, "groups": groups}
