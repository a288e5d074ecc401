"""The one mapping from eBay's failures to the API's errors (503, and 403 EBAY_RATE_LIMITED)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.errors import UpstreamRateLimited, UpstreamUnavailable

if TYPE_CHECKING:
    from common.ebay.errors import EbayError


def upstream_error(
    exc: EbayError, *, rate_limited: str, failed: str, unreachable: str | None = None
) -> UpstreamRateLimited | UpstreamUnavailable:
    """The error a client gets for ``exc``: ``rate_limited`` when eBay is limiting calls,
    ``unreachable`` (if given) when eBay could not be reached or refused our credentials, else
    ``failed`` followed by eBay's own words."""
    # Imported here: callers such as ebay_auth's status never load the eBay client's stack.
    from common.ebay.errors import EbayAuthError, EbayRateLimited, EbayUnavailable

    if isinstance(exc, EbayRateLimited):
        return UpstreamRateLimited(rate_limited)
    if unreachable is not None and isinstance(exc, EbayUnavailable | EbayAuthError):
        return UpstreamUnavailable(unreachable)
    return UpstreamUnavailable(failed + exc.user_message)
