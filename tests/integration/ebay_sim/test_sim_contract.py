"""Every Browse and Offer JSON answer of the simulator, checked against eBay's OpenAPI documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sim_http_helpers import US, SimEnv

from local.ebay_sim.config import API_SCOPE

CONTRACTS = Path(__file__).resolve().parents[3].parent / "shared" / "contracts" / "ebay"
OFFER_SPEC = "buy-offer-v1_beta.yml"
BROWSE_SPEC = "buy-browse-v1.yml"


@pytest.fixture(scope="module")
def contracts() -> dict[str, dict[str, Any]]:
    if not CONTRACTS.is_dir():
        pytest.skip(f"the eBay contracts folder is absent ({CONTRACTS}); cannot check schemas")
    return {
        name: yaml.safe_load((CONTRACTS / name).read_text(encoding="utf-8"))
        for name in (OFFER_SPEC, BROWSE_SPEC)
    }


def _validator(contracts: dict[str, dict[str, Any]], spec: str, schema: str) -> OAS30Validator:
    registry: Registry[Any] = Registry().with_resource(
        f"urn:{spec}", Resource.from_contents(contracts[spec], default_specification=DRAFT4)
    )
    return OAS30Validator({"$ref": f"urn:{spec}#/components/schemas/{schema}"}, registry=registry)


def _error_validator(contracts: dict[str, dict[str, Any]], spec: str) -> OAS30Validator:
    registry: Registry[Any] = Registry().with_resource(
        f"urn:{spec}", Resource.from_contents(contracts[spec], default_specification=DRAFT4)
    )
    envelope = {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "allOf": [
                        {"$ref": f"urn:{spec}#/components/schemas/Error"},
                        {"required": ["errorId", "domain", "category", "message"]},
                    ]
                },
            }
        },
    }
    return OAS30Validator(envelope, registry=registry)


def _documented_errors(operation: dict[str, Any]) -> dict[int, tuple[int, str, str]]:
    """errorId -> (HTTP status, domain, category) as the spec's x-response-codes list them."""
    found: dict[int, tuple[int, str, str]] = {}
    for status, response in operation["responses"].items():
        for error_id, error in response.get("x-response-codes", {}).get("errors", {}).items():
            found[int(error_id)] = (int(status), error["domain"], error["category"])
    return found


def _check(validator: OAS30Validator, response: httpx.Response) -> None:
    errors = [e.message for e in validator.iter_errors(response.json())]
    assert not errors, (response.request.url, errors)


def test_offer_answers_match_the_contract(
    sim_env: SimEnv, contracts: dict[str, dict[str, Any]]
) -> None:
    # Given eBay's Offer contract and a bidding scenario
    spec = contracts[OFFER_SPEC]
    place_op = spec["paths"]["/bidding/{item_id}/place_proxy_bid"]["post"]
    get_op = spec["paths"]["/bidding/{item_id}"]["get"]
    documented = {
        "place": _documented_errors(place_op),
        "get": _documented_errors(get_op),
    }
    created = sim_env.create_auction(reservePrice=3_000)
    item_id = created["itemId"]
    unmet = sim_env.create_auction(reservePrice=9_000)["itemId"]
    adult = sim_env.create_auction(adultOnly=True)["itemId"]
    token = sim_env.user_token("alice")
    seller = sim_env.user_token(sim_env.sim.auction(created["legacyItemId"]).seller)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/buy/offer/v1_beta/bidding/{item_id}/place_proxy_bid"
    # When successful and failing calls are made
    successes = [
        ("PlaceProxyBidResponse", sim_env.bid(token, item_id, "12.00")),
        ("Bidding", sim_env.bidding(token, item_id)),
        ("PlaceProxyBidResponse", sim_env.bid(token, item_id, "40.00")),
        ("Bidding", sim_env.bidding(token, item_id)),
        ("PlaceProxyBidResponse", sim_env.bid(token, unmet, "12.00")),
    ]
    failures = [
        ("place", sim_env.bid(token, item_id, "20.00")),
        ("place", sim_env.bid(token, "v1|1|0", "20.00")),
        ("place", sim_env.bid(seller, item_id, "90.00")),
        ("place", sim_env.bid(token, adult, "20.00")),
        ("place", sim_env.client.post(url, json={}, headers={**auth, **US})),
        ("place", sim_env.client.post(url, json={"maxAmount": {"value": "x"}}, headers=auth)),
        ("get", sim_env.bidding(seller, item_id)),
    ]
    sim_env.sim.set_skew(3_600_000)
    successes.append(("Bidding", sim_env.bidding(token, item_id)))
    successes.append(("Bidding", sim_env.bidding(token, unmet)))  # ended below its reserve
    failures.append(("place", sim_env.bid(seller, item_id, "90.00")))
    # Then each body validates against its schema
    for schema, response in successes:
        assert response.status_code == 200, response.text
        _check(_validator(contracts, OFFER_SPEC, schema), response)
    # and each error uses an id, status, domain and category the contract documents
    for operation, response in failures:
        _check(_error_validator(contracts, OFFER_SPEC), response)
        error = response.json()["errors"][0]
        expected = documented[operation].get(error["errorId"])
        assert expected == (response.status_code, error["domain"], error["category"]), error


def test_browse_answers_match_the_contract(
    sim_env: SimEnv, contracts: dict[str, dict[str, Any]]
) -> None:
    # Given eBay's Browse contract and auctions in several states
    token = sim_env.app_token()
    plain = sim_env.create_auction()
    reserved = sim_env.create_auction(reservePrice=5_000, buyItNowPrice=9_000)
    sim_env.client.post(
        f"/_sim/auctions/{plain['legacyItemId']}/bids", json={"bidder": "rival", "maxAmount": 2_500}
    )
    item_validator = _validator(contracts, BROWSE_SPEC, "Item")
    error_validator = _error_validator(contracts, BROWSE_SPEC)
    browse = contracts[BROWSE_SPEC]["paths"]
    documented = {
        **_documented_errors(browse["/item/{item_id}"]["get"]),
        **_documented_errors(browse["/item/get_item_by_legacy_id"]["get"]),
    }
    # When items are fetched, before and after the end, and unknown ones asked for
    answers = [
        sim_env.item(token, plain["itemId"]),
        sim_env.item(token, reserved["itemId"]),
        sim_env.client.get(
            "/buy/browse/v1/item/get_item_by_legacy_id",
            params={"legacy_item_id": reserved["legacyItemId"]},
            headers={"Authorization": f"Bearer {token}"},
        ),
    ]
    sim_env.sim.set_skew(3_600_000)
    answers.append(sim_env.item(token, plain["itemId"]))
    missing = [
        sim_env.item(token, "v1|1|0"),
        sim_env.client.get(
            "/buy/browse/v1/item/get_item_by_legacy_id",
            params={"legacy_item_id": "1"},
            headers={"Authorization": f"Bearer {token}"},
        ),
    ]
    # Then the items validate as Item and the errors use documented ids and domains
    for response in answers:
        assert response.status_code == 200
        _check(item_validator, response)
    for response in missing:
        _check(error_validator, response)
        error = response.json()["errors"][0]
        assert error["errorId"] in documented
        assert documented[error["errorId"]][1:] == (error["domain"], error["category"])


def _get_items_fields(operation: dict[str, Any]) -> set[str]:
    """The fields getItems returns, as its description lists them ("only the following fields
    are returned: <code>bidCount</code>, ... The array <code>shippingOptions</code> ...")."""
    listed = operation["description"].split("only the following fields are returned")[1]
    return set(re.findall(r"<code>(\w+)</code>", listed.split("</span>")[0]))


def test_get_items_answers_match_the_contract(
    sim_env: SimEnv, contracts: dict[str, dict[str, Any]]
) -> None:
    # Given eBay's getItems as the Browse document describes it: GET /item/ with item_ids,
    # a Limited Release method whose only scope is buy.item.bulk
    operation = contracts[BROWSE_SPEC]["paths"]["/item/"]["get"]
    assert operation["operationId"] == "getItems"
    assert "Limited Release" in operation["description"]
    assert {p["name"]: p["in"] for p in operation["parameters"]}["item_ids"] == "query"
    bulk = "https://api.ebay.com/oauth/api_scope/buy.item.bulk"
    assert operation["security"] == [{"api_auth": [bulk]}]
    documented = _documented_errors(operation)
    fields = _get_items_fields(operation)
    # and auctions: one with a bid, one with a reserve, one that will have ended
    plain = sim_env.create_auction()
    reserved = sim_env.create_auction(reservePrice=5_000)
    ending = sim_env.create_auction(endsInSeconds=60)
    sim_env.client.post(
        f"/_sim/auctions/{plain['legacyItemId']}/bids", json={"bidder": "rival", "maxAmount": 2_500}
    )
    token = sim_env.app_token(f"{API_SCOPE} {bulk}")
    ids = [plain["itemId"], reserved["itemId"], ending["itemId"], "v1|1|0"]
    # When they are fetched in one call, the last of them unknown, and after one has ended
    before = sim_env.items(token, item_ids=",".join(ids))
    sim_env.sim.set_skew(3_600_000)
    after = sim_env.items(token, item_ids=",".join(ids))
    # Then each answer validates as Items, holds only the method's fields, and names the
    # unknown item in a warning
    for response in (before, after):
        assert response.status_code == 200, response.text
        _check(_validator(contracts, BROWSE_SPEC, "Items"), response)
        body = response.json()
        assert [item["itemId"] for item in body["items"]] == ids[:3]
        assert body["total"] == 3
        for item in body["items"]:
            assert set(item) <= fields, set(item) - fields
        assert [w["errorId"] for w in body["warnings"]] == [11001]
    assert before.json()["items"][0]["currentBidPrice"] == {"currency": "USD", "value": "10.00"}
    assert "minimumPriceToBid" not in after.json()["items"][2]
    # When it is called wrongly
    twenty_one = ",".join(f"v1|{n}|0" for n in range(1, 22))
    failures = [
        sim_env.items(token, item_ids=twenty_one),
        sim_env.items(token),
        sim_env.items(token, item_ids=plain["itemId"], item_group_ids="3000000001"),
        sim_env.items(token, item_ids=f"{plain['itemId']},not-an-id"),
        sim_env.items(token, item_ids="v1|1|0,v1|2|0"),
        sim_env.items(token, item_group_ids="3000000001"),
    ]
    # Then each error is one the document lists for getItems, with its status and domain
    for response in failures:
        _check(_error_validator(contracts, BROWSE_SPEC), response)
        error = response.json()["errors"][0]
        expected = documented.get(error["errorId"])
        assert expected == (response.status_code, error["domain"], error["category"]), error
    assert [r.json()["errors"][0]["errorId"] for r in failures] == [
        11015,
        11017,
        11014,
        11012,
        11001,
        11002,
    ]
    # and an application token without the bulk scope is refused as eBay refuses a scope
    refused = sim_env.items(sim_env.app_token(), item_ids=plain["itemId"])
    assert refused.status_code == 403
    _check(_error_validator(contracts, BROWSE_SPEC), refused)
    # and the calls were counted as eBay's quota counts them
    counted = sim_env.client.get("/_sim/calls").json()["calls"]
    assert counted["getItems"] == 2 + len(failures)


def test_an_app_not_granted_get_items_cannot_have_its_scope() -> None:
    # Given a simulator whose app keyset is not one of the Partners granted getItems
    from dataclasses import replace

    from local.ebay_sim.testing import TEST_CONFIG, running_simulator

    with (
        running_simulator(replace(TEST_CONFIG, bulk_items=False)) as (sim, base_url),
        httpx.Client(base_url=base_url, timeout=5) as client,
    ):
        env = SimEnv(sim, base_url, client)
        # When it asks for an application token with buy.item.bulk
        answer = client.post(
            "/identity/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "scope": f"{API_SCOPE} https://api.ebay.com/oauth/api_scope/buy.item.bulk",
            },
            headers=env.basic_auth(),
        )
        # Then eBay answers invalid_scope, and the basic scope is still granted
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope")
        assert env.app_token()
