"""GET /bids a page at a time as a client meets it: the local gateway, a token from the local
user pool, the JWT authorizer, the bids function, moto and the eBay simulator in one stack
(issue 15 item 6: the active snipes by default, the record with a status, opaque cursors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.testing import RunningStack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(aws_endpoint: str) -> Iterator[RunningStack]:
    with running_stack(aws_endpoint_url=aws_endpoint) as stack:
        yield stack


def _login(base: str, email: str, password: str = "Sniper-Test-Pass1") -> dict[str, str]:
    httpx.post(f"{base}/local/signup", json={"email": email, "password": password})
    tokens = httpx.post(
        f"{base}/local/login", json={"username": email, "password": password}
    ).json()
    return {"Authorization": f"Bearer {tokens['idToken']}"}


def _snipe(running: RunningStack, auth: dict[str, str], title: str) -> str:
    auction = httpx.post(
        f"{running.sim_url}/_sim/auctions",
        json={"title": title, "startPrice": 1500, "endsInSeconds": 900},
    )
    auction.raise_for_status()
    created = httpx.post(
        f"{running.base_url}/bids",
        headers=auth,
        json={"ebayItemId": auction.json()["legacyItemId"], "maxBidAmount": 4200},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["bidId"])


def _pages(base: str, auth: dict[str, str], **query: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    params = dict(query)
    while True:
        answer = httpx.get(f"{base}/bids", headers=auth, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([b["bidId"] for b in body["items"]])
        if body["nextCursor"] is None:
            return pages
        params["cursor"] = body["nextCursor"]


def test_the_list_pages_the_active_snipes_and_the_record_on_request(running: RunningStack):
    base = running.base_url
    # Given a user with three snipes, one of them cancelled
    auth = _login(base, "lister@example.com")
    ids = [_snipe(running, auth, f"Leica M{n}") for n in (2, 3, 4)]
    cancelled = httpx.delete(f"{base}/bids/{ids[1]}", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    # When the list is read a snipe at a time, following nextCursor
    pages = _pages(base, auth, limit=1)
    # Then the two active ones come, newest first, one a page, and the listing ends
    assert [p for p in pages if p] == [[ids[2]], [ids[0]]]
    # When the record is asked for / Then the cancelled one is there
    assert _pages(base, auth, status="CANCELLED") == [[ids[1]]]
    assert _pages(base, auth, status="PENDING,CANCELLED") == [sorted(ids, reverse=True)]


def test_a_bad_cursor_or_limit_is_refused_naming_it(running: RunningStack):
    base = running.base_url
    # Given two users, the first with two active snipes (so a first page has a cursor)
    auth = _login(base, "cursor-owner@example.com")
    other = _login(base, "cursor-thief@example.com")
    for title in ("Hasselblad 503CW", "Rolleiflex 2.8F"):
        _snipe(running, auth, title)
    cursor = httpx.get(f"{base}/bids", headers=auth, params={"limit": 1}).json()["nextCursor"]
    assert cursor
    refused = [
        (other, {"cursor": cursor}, 400, "cursor"),  # another user's
        (auth, {"cursor": cursor, "status": "WON"}, 400, "cursor"),  # another listing's
        (auth, {"cursor": ("A" if cursor[0] != "A" else "B") + cursor[1:]}, 400, "cursor"),
        (auth, {"cursor": "%%%"}, 422, "cursor"),  # not even a cursor's shape
        (auth, {"limit": 0}, 422, "limit"),
        (auth, {"limit": 101}, 422, "limit"),
    ]
    for who, params, status, field in refused:
        # When the list is asked for with it
        answer = httpx.get(f"{base}/bids", headers=who, params=params)
        # Then it is refused, naming the field, with no one's snipes
        assert answer.status_code == status, (params, answer.text)
        assert answer.json()["error"]["details"][0]["field"] == field
    # and the OpenAPI document describes the listing's parameters and its cursor
    document = httpx.get(f"{base}/openapi.json").json()
    listing = document["paths"]["/bids"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "limit", "cursor"}
    assert "nextCursor" in listing["description"]
