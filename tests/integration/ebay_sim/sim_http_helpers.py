"""Helpers for the simulator's HTTP tests: a client, tokens obtained through OAuth, calls."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx

from local.ebay_sim import Simulator
from local.ebay_sim.config import API_SCOPE, OFFER_SCOPE
from local.ebay_sim.testing import TEST_CONFIG

BIDDER_SCOPES = f"{API_SCOPE} {OFFER_SCOPE}"
US = {"X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}


@dataclass
class SimEnv:
    sim: Simulator
    base_url: str
    client: httpx.Client

    def basic_auth(self) -> dict[str, str]:
        pair = f"{TEST_CONFIG.client_id}:{TEST_CONFIG.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def authorize(self, username: str, scope: str = BIDDER_SCOPES, state: str = "st") -> str:
        """Sign in on the consent page and agree; returns the authorization code."""
        response = self.client.post(
            "/oauth2/authorize",
            data={
                "client_id": TEST_CONFIG.client_id,
                "redirect_uri": TEST_CONFIG.ru_name,
                "response_type": "code",
                "scope": scope,
                "state": state,
                "username": username,
                "password": "anything",
                "approve": "yes",
            },
        )
        assert response.status_code == 302, response.text
        return httpx.URL(response.headers["Location"]).params["code"]

    def exchange(self, code: str) -> httpx.Response:
        return self.client.post(
            "/identity/v1/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": TEST_CONFIG.ru_name,
            },
            headers=self.basic_auth(),
        )

    def user_token(self, username: str, scope: str = BIDDER_SCOPES) -> str:
        response = self.exchange(self.authorize(username, scope))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def app_token(self, scope: str = API_SCOPE) -> str:
        response = self.client.post(
            "/identity/v1/oauth2/token",
            data={"grant_type": "client_credentials", "scope": scope},
            headers=self.basic_auth(),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def create_auction(self, **fields: object) -> dict[str, str]:
        body = {"title": "Leica M6 Rangefinder", "startPrice": 1_000, "endsInSeconds": 600}
        body.update(fields)
        response = self.client.post("/_sim/auctions", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def bid(self, token: str, item_id: str, value: str, **extra: object) -> httpx.Response:
        body: dict[str, object] = {"maxAmount": {"currency": "USD", "value": value}, **extra}
        return self.client.post(
            f"/buy/offer/v1_beta/bidding/{item_id}/place_proxy_bid",
            json=body,
            headers={"Authorization": f"Bearer {token}", **US},
        )

    def bidding(self, token: str, item_id: str) -> httpx.Response:
        return self.client.get(
            f"/buy/offer/v1_beta/bidding/{item_id}",
            headers={"Authorization": f"Bearer {token}", **US},
        )

    @staticmethod
    def error_ids(response: httpx.Response) -> list[int]:
        return [int(e["errorId"]) for e in response.json()["errors"]]

    def item(self, token: str, item_id: str) -> httpx.Response:
        return self.client.get(
            f"/buy/browse/v1/item/{item_id}", headers={"Authorization": f"Bearer {token}"}
        )

    def items(self, token: str, **params: str) -> httpx.Response:
        """getItems: ``item_ids`` (comma separated) and/or ``item_group_ids``."""
        return self.client.get(
            "/buy/browse/v1/item/", params=params, headers={"Authorization": f"Bearer {token}"}
        )
