"""Linking an eBay account the way a browser does it, against the simulator's consent page."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import boto3
import httpx

from rest import ebay_auth
from tests.integration.rest.conftest import make_call
from tests.stack_env import get_settings

call = make_call(ebay_auth.handler)

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def auth_url(user: str = "user-a", email: str | None = None) -> dict[str, Any]:
    status, body = call("GET", "/ebay/auth/url", user=user, email=email or f"{user}@example.com")
    assert status == 200, body
    return dict(body)


def consent(auth_url: str, ebay_username: str, approve: str = "yes") -> tuple[str, str]:
    """Open eBay's consent page, submit it, and read (code, state) off the 302 without following.

    The Location points at the dashboard's accept URL, which the browser would then load.
    """
    page = httpx.get(auth_url, timeout=5)
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    form.update(username=ebay_username, password="anything", approve=approve)
    answer = httpx.post(
        urljoin(auth_url, "/oauth2/authorize"), data=form, follow_redirects=False, timeout=5
    )
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    return query["code"][0], query["state"][0]


def callback(code: str, state: str, user: str = "user-a") -> tuple[int, Any]:
    return call(
        "POST",
        "/ebay/auth/callback",
        body={"code": code, "state": state},
        user=user,
        email=f"{user}@example.com",
    )


def link(user: str = "user-a", ebay_username: str = "sniper_sam") -> dict[str, Any]:
    """The whole flow; returns the callback's answer (the link status)."""
    start = auth_url(user)
    code, state = consent(start["authUrl"], ebay_username)
    status, body = callback(code, state, user)
    assert status == 200, body
    return dict(body)


def link_status(user: str = "user-a") -> dict[str, Any]:
    status, body = call("GET", "/ebay/auth/status", user=user)
    assert status == 200, body
    return dict(body)


def sim_account_id(base_url: str, ebay_username: str) -> str:
    accounts = httpx.get(f"{base_url}/_sim/accounts", timeout=5).json()["accounts"]
    return next(str(a["userId"]) for a in accounts if a["username"] == ebay_username)


def users_items() -> list[dict[str, Any]]:
    """Every item of the Users table, raw (profiles and guards)."""
    table = get_settings().users_and_app_state_table
    return list(boto3.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"])


def users_item(key: str) -> dict[str, Any] | None:
    table = get_settings().users_and_app_state_table
    found = boto3.client("dynamodb").get_item(
        TableName=table, Key={"userId": {"S": key}}, ConsistentRead=True
    )
    return found.get("Item")
