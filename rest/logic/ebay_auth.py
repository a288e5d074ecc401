"""Linking an eBay account (OAuth authorization code grant), its status, and unlinking it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from common.clock import Clock, now_ms
from common.data.ebay_links import NewLink
from common.data.ports import BidStore, EbayLinkStore, UserStore
from common.errors import (
    BadRequestError,
    FieldIssue,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from common.observability import logger
from rest.logic.upstream import upstream_error
from rest.logic.users import SignInEmail, get_or_create_profile

if TYPE_CHECKING:
    from pydantic import SecretStr

    from common.ebay.errors import EbayError
    from common.ebay.models import EbayUser, UserTokens
    from common.token_crypto import TokenCipher

STATE_TTL_SECONDS = 600
BAD_STATE = "This sign-in link is invalid, expired or already used; start linking again"


class EbayOAuth(Protocol):
    def authorization_url(self, state: str) -> str: ...

    def exchange_code(self, code: str) -> UserTokens: ...

    def get_user(self, access_token: SecretStr) -> EbayUser: ...


@dataclass(frozen=True)
class AuthStart:
    auth_url: str
    state: str
    expires_at: int


@dataclass(frozen=True)
class LinkStatus:
    is_linked: bool
    account_id: str | None = None
    linked_at: int | None = None  # epoch ms
    token_expires_at: int | None = None  # the refresh token's expiry, epoch s


@dataclass(frozen=True)
class Unlinked:
    unlinked: bool
    pending_snipes: int


def start_linking(
    user_id: str,
    users: UserStore,
    links: EbayLinkStore,
    ebay: EbayOAuth,
    clock: Clock,
) -> AuthStart:
    """A fresh single-use state bound to the caller, and eBay's consent URL carrying it; never
    for a deleted account (AccountDeletedError), whose token may outlive it by up to an hour."""
    # Refused before eBay's URL is built; a deletion that begins after this read is caught by
    # the state's write, which checks the profile in the same transaction.
    users.get_live(user_id)
    state = secrets.token_urlsafe(32)
    expires_at = int(clock()) + STATE_TTL_SECONDS
    url = ebay.authorization_url(state)
    links.put_state(state, user_id, expires_at)
    return AuthStart(auth_url=url, state=state, expires_at=expires_at)


def complete_linking(
    user_id: str,
    email: SignInEmail,
    code: str,
    state: str,
    users: UserStore,
    links: EbayLinkStore,
    cipher: TokenCipher,
    ebay: EbayOAuth,
    clock: Clock,
) -> LinkStatus:
    """Consume the state, trade the code for tokens and store them encrypted with the link.

    The state goes first and alone: a refused state changes nothing at all. A code eBay
    refuses spends the state and changes nothing else (the profile is made only after).
    """
    if not links.consume_state(state, user_id, int(clock())):
        raise BadRequestError(BAD_STATE, [FieldIssue("state", "invalid, expired or used")])
    tokens, account = _tokens_and_account(code, ebay)
    user = get_or_create_profile(user_id, email, users, clock)
    envelope = cipher.encrypt(user_id, tokens)
    new = NewLink(
        account_id=account.user_id,
        envelope=envelope,
        linked_at=now_ms(clock),
        access_expires_at=tokens.access_expires_at,
        refresh_expires_at=tokens.refresh_expires_at,
    )
    links.link(user_id, new, user.ebayAccountId)
    logger.info("ebay account linked", relinked=user.ebayAccountId is not None)
    return LinkStatus(True, new.account_id, new.linked_at, new.refresh_expires_at)


def link_status(user_id: str, links: EbayLinkStore) -> LinkStatus:
    link = links.get(user_id)
    if link is None:
        return LinkStatus(False)
    return LinkStatus(True, link.account_id, link.linked_at, link.refresh_expires_at)


def unlink(
    user_id: str, links: EbayLinkStore, bids: BidStore, clock: Clock = time.time
) -> Unlinked:
    """Forget the tokens and release the account. Snipes stay, but cannot fire until re-linked.
    While a sealed snipe is placing its bid the unlink is refused (SnipeSealedError, 409).

    Not linked is not an error: the answer says ``unlinked: false`` (DELETE stays idempotent).
    """
    link = links.get(user_id)
    removed = link is not None and links.unlink(user_id, link.account_id, now_ms(clock))
    pending = count_active_snipes(user_id, bids)
    if removed:
        logger.info("ebay account unlinked", pending_snipes=pending)
    return Unlinked(unlinked=removed, pending_snipes=pending)


def count_active_snipes(user_id: str, bids: BidStore) -> int:
    """The snipes that cannot fire until the account is linked again: the user's active ones,
    counted from the set of their ids (one item read, however long their history)."""
    return bids.active_count(user_id)


def _tokens_and_account(code: str, ebay: EbayOAuth) -> tuple[UserTokens, EbayUser]:
    # Imported here: status and unlink never load the eBay client's stack (httpx) at all.
    from common.ebay.errors import EbayError, InvalidGrant

    try:
        tokens = ebay.exchange_code(code)
    except InvalidGrant as exc:
        raise BadRequestError(
            "eBay refused the authorization code (expired or already used); start linking again",
            [FieldIssue("code", "refused by eBay")],
        ) from exc
    except EbayError as exc:
        raise _upstream(exc) from exc
    try:
        account = ebay.get_user(tokens.access_token)
    except EbayError as exc:
        raise _upstream(exc) from exc
    return tokens, account


def _upstream(exc: EbayError) -> UpstreamRateLimited | UpstreamUnavailable:
    return upstream_error(
        exc,
        rate_limited="eBay is limiting calls right now; try again in a few minutes",
        failed="eBay could not complete the link: ",
    )
