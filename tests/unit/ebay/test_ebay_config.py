"""Where each environment's eBay lives (``EbayConfig``)."""

from __future__ import annotations

import pytest

from common.ebay.config import EbayConfig

API = "https://api.sandbox.ebay.com"


def test_local_config_takes_both_urls_and_strips_the_authorize_path() -> None:
    config = EbayConfig.for_environment(
        "local",
        api_base_url="http://127.0.0.1:9100/",
        auth_base_url="http://127.0.0.1:9100/oauth2/authorize",
    )
    assert config.authorize_url == "http://127.0.0.1:9100/oauth2/authorize"
    assert config.token_url == "http://127.0.0.1:9100/identity/v1/oauth2/token"
    assert config.trading_url == "http://127.0.0.1:9100/ws/api.dll"
    assert config.identity_base_url == "http://127.0.0.1:9100"


def test_local_config_needs_a_url() -> None:
    with pytest.raises(ValueError, match="api_base_url"):
        EbayConfig.for_environment("local")


@pytest.mark.parametrize(
    ("environment", "api", "auth"),
    [
        ("production", "https://api.ebay.com", "https://auth.ebay.com"),
        ("sandbox", API, "https://auth.sandbox.ebay.com"),
    ],
)
def test_environment_hosts(environment: str, api: str, auth: str) -> None:
    config = EbayConfig.for_environment(environment)
    assert config.token_url == f"{api}/identity/v1/oauth2/token"
    assert config.authorize_url == f"{auth}/oauth2/authorize"
