"""The token worker's logic (hourly).

1. Users whose snipes end in the next ``SNIPE_HORIZON_SECONDS`` (the sparse ActiveByEndTime
   index) get an access token valid for at least ``REFRESH_MARGIN_SECONDS``: eBay's access
   tokens live 2 h, so after an hourly run every such user holds one that outlasts the next run.
   The executor still checks its token before bidding; this only takes the refresh (an eBay call
   that can be slow or rate-limited) out of the critical seconds.
2. Linked users whose refresh token expires within the threshold (the sparse
   ByEbayRefreshExpiry index, soonest first) get one RELINK_NEEDED email per expiry: the marker
   ``relinkWarnedFor`` is claimed with a conditional write before the notifier is invoked.

Neither step reads the whole Users table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from common.clock import Clock
from common.data.ebay_links import EbayLink, ExpiringLink
from common.ebay.errors import EbayError
from common.ebay_tokens import TokenRefresher, valid_access_token
from common.errors import DomainError, EbayNotLinkedError
from common.models import BidEntity
from common.notifier_client import NotificationKind, Notifier
from common.observability import logger

SNIPE_HORIZON_SECONDS = 3 * 3600
REFRESH_MARGIN_SECONDS = 65 * 60


class Links(Protocol):
    def get(self, user_id: str) -> EbayLink | None: ...

    def iter_expiring_before(self, refresh_before: int) -> Iterable[ExpiringLink]: ...

    def replace_tokens(
        self,
        user_id: str,
        expected_envelope: str,
        envelope: str,
        access_expires_at: int,
        refresh_expires_at: int,
    ) -> bool: ...


class ActiveBids(Protocol):
    def active_ending_between(self, start: int, end: int) -> list[BidEntity]: ...


class Warnings(Protocol):
    def mark(self, user_id: str, refresh_expires_at: int) -> bool: ...

    def unmark(self, user_id: str, refresh_expires_at: int) -> bool: ...


@dataclass
class TokenRunResult:
    usersProcessed: int = 0
    tokensRefreshed: int = 0
    relinkWarnings: int = 0
    failures: int = 0
    executionTime: int = 0  # ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(
    links: Any,
    bids: ActiveBids,
    warnings: Warnings,
    cipher: Any,
    ebay: TokenRefresher,
    notifier: Notifier,
    threshold_days: int,
    clock: Clock = time.time,
) -> TokenRunResult:
    started = clock()
    now = int(started)
    result = TokenRunResult()
    users: set[str] = set()

    for user_id in sorted(
        {b.userId for b in bids.active_ending_between(now, now + SNIPE_HORIZON_SECONDS)}
    ):
        users.add(user_id)
        link = links.get(user_id)
        if link is None:
            result.failures += 1
            logger.info("snipes ending soon but no eBay link", user_id=user_id)
            continue
        if link.access_expires_at - REFRESH_MARGIN_SECONDS > now:
            continue
        try:
            valid_access_token(user_id, links, cipher, ebay, clock, margin=REFRESH_MARGIN_SECONDS)
        except EbayNotLinkedError:
            result.failures += 1
            _warn(user_id, link.refresh_expires_at, warnings, notifier, result)
            continue
        except (EbayError, DomainError) as exc:
            result.failures += 1
            logger.warning("token refresh failed", user_id=user_id, error=type(exc).__name__)
            continue
        result.tokensRefreshed += 1

    for expiring in links.iter_expiring_before(now + threshold_days * 86400):
        users.add(expiring.user_id)
        if expiring.relink_warned_for == expiring.refresh_expires_at:
            continue
        _warn(expiring.user_id, expiring.refresh_expires_at, warnings, notifier, result)

    result.usersProcessed = len(users)
    result.executionTime = int((clock() - started) * 1000)
    logger.info("token refresh run", **result.as_dict())
    return result


def _warn(
    user_id: str,
    refresh_expires_at: int,
    warnings: Warnings,
    notifier: Notifier,
    result: TokenRunResult,
) -> None:
    if not warnings.mark(user_id, refresh_expires_at):
        return
    try:
        notifier.notify(NotificationKind.RELINK_NEEDED, user_id)
    except DomainError:
        warnings.unmark(user_id, refresh_expires_at)
        result.failures += 1
        logger.warning("relink warning not handed to the notifier", user_id=user_id)
        return
    result.relinkWarnings += 1
