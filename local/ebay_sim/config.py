"""The simulator's settings: the app keyset it accepts and the token lifetimes it grants."""

from __future__ import annotations

from dataclasses import dataclass

API_SCOPE = "https://api.ebay.com/oauth/api_scope"
OFFER_SCOPE = "https://api.ebay.com/oauth/api_scope/buy.offer.auction"
IDENTITY_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
# Browse getItems (buy-browse-v1.yml, ``/item/``): a Limited Release method, "available only to
# select Partners", whose security names this scope alone.
BULK_ITEMS_SCOPE = "https://api.ebay.com/oauth/api_scope/buy.item.bulk"
AUTH_CODE_TTL_SECONDS = 299


@dataclass(frozen=True)
class SimConfig:
    client_id: str
    client_secret: str
    ru_name: str
    accept_url: str
    decline_url: str
    access_token_ttl: int = 7200
    refresh_token_ttl: int = 47_304_000
    seed: int = 0
    bots: bool = True
    currency: str = "USD"
    # Whether the app keyset is one of the Partners granted getItems: its client-credentials
    # grant then gives ``buy.item.bulk``; otherwise asking for that scope is ``invalid_scope``.
    bulk_items: bool = True
