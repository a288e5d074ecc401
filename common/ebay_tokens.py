"""A user's eBay access token, always usable: decrypted, refreshed when due, stored encrypted.

Shared by the REST functions, the bid executor and the token worker. ``valid_access_token``
returns a token valid for at least ``margin`` seconds; ``call_with_user_token`` also survives a
token eBay refuses early (revoked, or our clock and eBay's disagree) by refreshing and retrying
the call once.

A refresh is stored only if the stored envelope is still the one that was read
(``EbayLinksRepository.replace_tokens``); when another refresh won, its token is as good as ours
and ours is returned without being stored.

The eBay client's modules are imported inside the functions: a handler that only sometimes needs
a token does not pay for httpx at cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import SecretStr

from common.clock import Clock
from common.data.ebay_links import EbayLink
from common.data.ports import EbayLinkStore
from common.errors import EbayNotLinkedError
from common.observability import logger

if TYPE_CHECKING:
    from common.ebay.models import UserTokens
    from common.token_crypto import TokenCipher

T = TypeVar("T")

# Refresh this long before eBay's stated expiry: a call must not start with a dying token.
DEFAULT_MARGIN_SECONDS = 300

NOT_LINKED = "Link your eBay account first"
RELINK = "eBay no longer accepts this link (expired or revoked): link your eBay account again"


class TokenRefresher(Protocol):
    def refresh_user_token(self, tokens: UserTokens) -> UserTokens: ...


def valid_access_token(
    user_id: str,
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: TokenRefresher,
    clock: Clock = time.time,
    *,
    margin: int = DEFAULT_MARGIN_SECONDS,
    force_refresh: bool = False,
) -> SecretStr:
    """The user's access token, refreshed first when it expires within ``margin`` seconds.

    Raises EbayNotLinkedError when there is no link, the envelope cannot be opened, or eBay
    refuses the refresh token (``invalid_grant``): the user must link again. Other eBay
    failures (rate limit, outage) propagate as the client's typed errors.
    """
    link = links.get(user_id)
    if link is None:
        raise EbayNotLinkedError(NOT_LINKED)
    tokens = _decrypt(link, cipher)
    now = int(clock())
    if tokens.refresh_expires_at <= now:
        raise EbayNotLinkedError(RELINK)
    if not force_refresh and tokens.access_expires_at - margin > now:
        return tokens.access_token
    return _refresh(link, tokens, links, cipher, ebay).access_token


def call_with_user_token(
    user_id: str,
    call: Callable[[SecretStr], T],
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: TokenRefresher,
    clock: Clock = time.time,
    *,
    margin: int = DEFAULT_MARGIN_SECONDS,
) -> T:
    """``call(access_token)``; if eBay refuses the token, refresh it and call once more."""
    from common.ebay.errors import EbayAuthError

    token = valid_access_token(user_id, links, cipher, ebay, clock, margin=margin)
    try:
        return call(token)
    except EbayAuthError:
        logger.info("ebay refused the access token; refreshing it", user_id=user_id)
    token = valid_access_token(user_id, links, cipher, ebay, clock, force_refresh=True)
    try:
        return call(token)
    except EbayAuthError as exc:
        # A fresh token refused too: the grant lost its scopes or was revoked.
        raise EbayNotLinkedError(RELINK) from exc


def _decrypt(link: EbayLink, cipher: TokenCipher) -> UserTokens:
    # Imported here: cryptography is only paid for by the calls that open an envelope.
    from common.token_crypto import TokenDecryptionError

    try:
        return cipher.decrypt(link.user_id, link.envelope)
    except TokenDecryptionError as exc:
        logger.warning("stored eBay tokens cannot be opened", user_id=link.user_id)
        raise EbayNotLinkedError(RELINK) from exc


def _refresh(
    link: EbayLink,
    tokens: UserTokens,
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: TokenRefresher,
) -> UserTokens:
    from common.ebay.errors import InvalidGrant

    try:
        fresh = ebay.refresh_user_token(tokens)
    except InvalidGrant as exc:
        logger.info("ebay refused the refresh token", user_id=link.user_id)
        raise EbayNotLinkedError(RELINK) from exc
    envelope = cipher.encrypt(link.user_id, fresh)
    stored = links.replace_tokens(
        link.user_id,
        link.envelope,
        envelope,
        fresh.access_expires_at,
        fresh.refresh_expires_at,
    )
    logger.info(
        "ebay access token refreshed",
        user_id=link.user_id,
        stored=stored,
        access_expires_at=fresh.access_expires_at,
    )
    return fresh
