"""Every Browse and Offer JSON answer of the simulator, checked against eBay's OpenAPI documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sim_http_helpers import US, SimEnv

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
