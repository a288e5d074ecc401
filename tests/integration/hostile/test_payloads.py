"""Hostile payloads through the local gateway: every JSON field of every request body (read from
the OpenAPI document, so a new field or body route is covered without editing this file) gets
wrong types, integer overflow, floats, numeric strings, zero and negative numbers, NUL, lone
surrogates, control and bidi-override characters and megabyte strings; bodies come oversized,
deeply nested, not UTF-8 and not JSON; every paged listing gets absurd limits and cursors.

Each is refused with a 4xx that names the field (``body`` when the JSON cannot be read at
all, nothing when the gateway refuses the request before any function runs), and nothing of
the user's data changes. Unusual but legitimate text (emoji, right-to-left scripts) is either
refused the same way or stored exactly as sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.testing import RunningStack, link_ebay_account
from rest.openapi import build_openapi
from tests.integration.hostile.hostile_helpers import User, api, footprint, new_auction, sign_up

pytestmark = pytest.mark.e2e

DOCUMENT = build_openapi()

# A value of each field that the operation accepts; each field in turn is replaced by a hostile
# value while the others keep these, so a hostile value that slipped through would be written.
Valid = Callable[["Victim"], dict[str, Any]]
VALID_BODIES: dict[tuple[str, str], Valid] = {
    ("POST", "/bids"): lambda v: {
        "ebayItemId": v.spare_item,
        "maxBidAmount": 5000,
        "currency": "USD",
        "leadSeconds": 5,
        "groupId": "cameras",
    },
    ("PUT", "/bids/{bidId}"): lambda v: {"maxBidAmount": 6100, "leadSeconds": 9},
    ("PUT", "/users/profile"): lambda v: {"displayName": "Vic Tim", "email": v.user.email},
    ("PUT", "/users/preferences"): lambda v: {
        "emailNotifications": True,
        "bidWinNotifications": False,
        "bidLossNotifications": True,
        "timezone": "Europe/Paris",
        "defaultLeadSeconds": 8,
    },
    ("POST", "/ebay/auth/callback"): lambda v: {"code": "sim-code", "state": v.fresh_state()},
    ("PUT", "/groups/{groupId}"): lambda v: {"mode": "CONTINGENCY", "limit": 3},
}

MEGABYTE = "x" * 1_048_576
# Must be refused wherever a string is expected.
HOSTILE_TEXT = {
    "nul": "ab\u0000cd",
    "c0 control": "ab\u0007cd",
    "c1 control": "ab\u0085cd",
    "bidi override": "\u202egnp.exe",
    "bidi isolate": "ab\u2067cd\u2069",
    "a megabyte": MEGABYTE,
}
# Legitimate text: stored exactly, or refused like the above where the field has a format.
UNUSUAL_TEXT = {
    "emoji": "\U0001f4f7 \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "right to left": "\u05de\u05e6\u05dc\u05de\u05d4 \u0643\u0627\u0645\u064a\u0631\u0627",
    "combining marks": "Z\u0351\u0352a\u0353l\u0354g\u0355o",
}
WRONG_FOR_STRING: dict[str, Any] = {"integer": 12345, "boolean": True, "array": ["a"], "object": {}}
WRONG_FOR_INTEGER: dict[str, Any] = {
    "2^63": 2**63,
    "2^64 + 1": 2**64 + 1,
    "-2^63 - 1": -(2**63) - 1,
    "10^30": 10**30,
    "float": 50.5,
    "integral float": 5000.0,
    "1e308": 1e308,
    "numeric string": "5000",
    "boolean": True,
    "zero": 0,
    "negative": -1,
    "array": [5000],
}
WRONG_FOR_BOOLEAN: dict[str, Any] = {"zero": 0, "one": 1, "string": "true", "null": None}


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    return dict(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]])


def _type(prop: dict[str, Any]) -> str:
    options = [_schema(o) for o in prop.get("anyOf", [prop])]
    return next(str(o["type"]) for o in options if o.get("type") not in (None, "null"))


def _body_fields() -> list[tuple[str, str, str, str]]:
    """(METHOD, path, field, JSON type) for every property of every JSON request body."""
    fields = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            schema = _schema(body["content"]["application/json"]["schema"])
            for name, prop in schema["properties"].items():
                fields.append((method.upper(), path, name, _type(prop)))
    return fields


BODY_FIELDS = _body_fields()
BODY_OPERATIONS = sorted({(m, p) for m, p, _, _ in BODY_FIELDS})
PAGED_OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if any(p["name"] == "limit" for p in operation.get("parameters", []))
)


class Victim:
    """A linked user with one snipe (``bid_id`` on ``item``) and a second auction to snipe."""

    def __init__(self, running: RunningStack, user: User, http: httpx.Client) -> None:
        self.running = running
        self.user = user
        self.http = http
        ebay_user = f"victim_{user.sub[:8]}"
        item, spare = (
            new_auction(running, watchedBy=[ebay_user], bots=False),
            new_auction(running, watchedBy=[ebay_user], bots=False),
        )
        link_ebay_account(http, user.headers, ebay_user)
        self.item = item["legacyItemId"]
        self.spare_item = spare["legacyItemId"]
        created = http.post(
            "/bids",
            headers=user.headers,
            json={"ebayItemId": self.item, "maxBidAmount": 4000, "leadSeconds": 4},
        )
        created.raise_for_status()
        self.bid_id = created.json()["bidId"]

    def fresh_state(self) -> str:
        return str(self.http.get("/ebay/auth/url", headers=self.user.headers).json()["state"])

    def send(
        self, method: str, path: str, *, raw: bytes | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = path.replace("{bidId}", self.bid_id).replace("{groupId}", "cameras")
        if raw is None:
            return self.http.request(method, url, headers=self.user.headers, **kwargs)
        headers = {**self.user.headers, "content-type": "application/json"}
        return self.http.request(method, url, headers=headers, content=raw)


@pytest.fixture(scope="module")
def victim(running: RunningStack) -> Iterator[Victim]:
    with api(running) as http:
        yield Victim(running, sign_up(running, "victim"), http)


def _named(response: httpx.Response) -> set[str]:
    return {detail["field"] for detail in response.json()["error"]["details"]}


def _refused_naming(response: httpx.Response, field: str, case: str) -> None:
    assert response.status_code in (400, 422), f"{case}: {response.status_code} {response.text}"
    assert field in _named(response), f"{case}: {response.text[:500]}"


def test_every_body_operation_has_a_valid_body_to_vary() -> None:
    # Given the request bodies the OpenAPI document declares
    # Then each has a valid example here, so none escapes the matrix below
    assert set(VALID_BODIES) == set(BODY_OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "field", "kind"),
    BODY_FIELDS,
    ids=[f"{m} {p} {f}" for m, p, f, _ in BODY_FIELDS],
)
def test_hostile_values_in_each_field_are_refused_and_change_nothing(
    running: RunningStack, victim: Victim, method: str, path: str, field: str, kind: str
) -> None:
    # Given the victim's data as it stands
    before = footprint(running, victim.user)
    hostile: dict[str, Any] = (
        {**HOSTILE_TEXT, **WRONG_FOR_STRING}
        if kind == "string"
        else WRONG_FOR_INTEGER
        if kind == "integer"
        else WRONG_FOR_BOOLEAN
    )
    for name, value in hostile.items():
        # When the field alone carries a hostile value
        body = {**VALID_BODIES[(method, path)](victim), field: value}
        response = victim.send(method, path, json=body)
        # Then it is refused, naming the field
        _refused_naming(response, field, f"{field}={name}")
    # And a lone surrogate (valid JSON, not valid Unicode) is refused the same way
    if kind == "string":
        valid = VALID_BODIES[(method, path)](victim)
        raw = json.dumps({**valid, field: "@@"}).replace('"@@"', '"ab\\ud800cd"')
        response = victim.send(method, path, raw=raw.encode())
        _refused_naming(response, field, f"{field}=lone surrogate")
    # And nothing was written
    assert footprint(running, victim.user) == before


STRING_FIELDS = [(m, p, f) for m, p, f, kind in BODY_FIELDS if kind == "string"]


@pytest.mark.parametrize(
    ("method", "path", "field"), STRING_FIELDS, ids=[f"{m} {p} {f}" for m, p, f in STRING_FIELDS]
)
def test_unusual_text_is_stored_exactly_or_refused(
    running: RunningStack, victim: Victim, method: str, path: str, field: str
) -> None:
    for name, value in UNUSUAL_TEXT.items():
        # Given the victim's data as it stands
        before = footprint(running, victim.user)
        # When a field carries emoji, a right-to-left script or combining marks
        body = {**VALID_BODIES[(method, path)](victim), field: value}
        response = victim.send(method, path, json=body)
        # Then it is either refused, naming the field, with nothing written...
        if response.status_code >= 400:
            _refused_naming(response, field, f"{field}={name}")
            assert footprint(running, victim.user) == before
        # ...or accepted and given back exactly as sent
        else:
            assert response.status_code in (200, 201), response.text
            assert response.json().get(field) == value, f"{field}={name}: {response.text}"


@pytest.mark.parametrize(
    ("method", "path"), BODY_OPERATIONS, ids=[f"{m} {p}" for m, p in BODY_OPERATIONS]
)
def test_unreadable_bodies_are_refused_and_change_nothing(
    running: RunningStack, victim: Victim, method: str, path: str
) -> None:
    before = footprint(running, victim.user)
    valid = json.dumps(VALID_BODIES[(method, path)](victim))
    first = next(iter(json.loads(valid)))
    cases: dict[str, tuple[bytes, str]] = {
        "not JSON": (b"{'maxBidAmount': 5000", "body"),
        "not UTF-8": (b'{"a": "\xff\xfe"}', "body"),
        "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "body"),
        "a field nested 100,000 deep": (
            valid[:-1].encode() + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "body",
        ),
        "a 5,000-digit number": (
            f'{{"{first}": 1{"0" * 5000}}}'.encode(),
            "body",
        ),
        "nested 200 deep": (f'{{"{first}": {"[" * 200}{"]" * 200}}}'.encode(), first),
        "an array": (b"[]", "body"),
        "a string": (b'"hello"', "body"),
        "null": (b"null", "body"),
        "an unknown field": (valid[:-1].encode() + b', "isAdmin": true}', "isAdmin"),
        "a duplicated key": (
            valid[:-1].encode() + f', "{first}": {{"nested": 1}}}}'.encode(),
            first,
        ),
    }
    for name, (raw, field) in cases.items():
        # When the body is hostile as a whole
        response = victim.send(method, path, raw=raw)
        # Then it is refused, naming the body or the field
        _refused_naming(response, field, name)
    # And a body over API Gateway's 10 MB payload limit never reaches a function
    huge = b'{"x": "' + b"a" * (10 * 1024 * 1024 + 1) + b'"}'
    response = victim.send(method, path, raw=huge)
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}  # API Gateway's body
    # And nothing was written
    assert footprint(running, victim.user) == before


HOSTILE_QUERIES: dict[str, list[Any]] = {
    "limit": [10**30, 2**63, 101, 0, -1, "1.5", "1e3", "abc", "", "\u0661\u0660"],
    "cursor": [
        "not-a-cursor",
        "\u00e9t\u00e9.sig",
        "e30.\u00e9t\u00e9",
        "a" * 3000,
        "x.y.z",
        "%00",
    ],
    "status": ["WON,NOPE", "\u0000", "PEND\u0130NG"],
    "action": ["CREATE,NOPE", "\u202eCREATE"],
    "from": [-1, 10**20, "yesterday"],
    "to": [-1, 10**20, "1.5"],
}


@pytest.mark.parametrize(
    ("method", "path"), PAGED_OPERATIONS, ids=[f"{m} {p}" for m, p in PAGED_OPERATIONS]
)
def test_hostile_paging_and_filters_are_refused(
    running: RunningStack, victim: Victim, method: str, path: str
) -> None:
    operation = DOCUMENT["paths"][path][method.lower()]
    names = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    for name in names:
        for value in HOSTILE_QUERIES[name]:
            # When a query parameter is hostile
            response = victim.send(method, path, params={name: value})
            # Then it is refused, naming the parameter
            _refused_naming(response, name, f"{name}={value!r:.60}")


def test_bid_ids_too_long_for_a_key_are_refused_before_dynamodb(victim: Victim) -> None:
    # Given an id longer than DynamoDB accepts as a sort key (1,024 bytes)
    long_id = "\U0001f600" * 300
    for method, path in (
        ("GET", f"/bids/{long_id}"),
        ("PUT", f"/bids/{long_id}"),
        ("DELETE", f"/bids/{long_id}"),
        ("GET", f"/bid-history/{long_id}"),
    ):
        body = {"maxBidAmount": 5000} if method == "PUT" else None
        # When it is used
        response = victim.http.request(method, path, headers=victim.user.headers, json=body)
        # Then it is refused, naming it
        _refused_naming(response, "bidId", f"{method} {path[:20]}")


def test_percent_encoded_item_ids_reach_the_route_decoded(victim: Victim) -> None:
    # Given the RESTful form of an item id, percent-encoded as HTTP clients send a '|'
    encoded = f"v1%7C{victim.item}%7C0"
    # When the item is read
    response = victim.http.get(f"/wishlist/items/{encoded}", headers=victim.user.headers)
    # Then the route got v1|...|0 and found the item and the victim's snipe on it
    assert response.status_code == 200, response.text
    assert response.json()["activeBidId"] == victim.bid_id
