"""eBay's Buy Offer API: place (or raise) the user's proxy bid and read the bidding on an item,
with the user's access token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx
from aws_lambda_powertools import Logger
from pydantic import SecretStr, ValidationError

from common.ebay.errors import EbayProtocolError
from common.ebay.models import (
    BiddingStatus,
    Money,
    ProxyBidResult,
    bool_or_none,
    epoch_ms_or_none,
    money_or_none,
    rest_item_id,
)
from common.ebay.transport import Request, Transport

logger = Logger(child=True)

OFFER_PATH = "/buy/offer/v1_beta/bidding"


@dataclass(frozen=True, slots=True)
class PreparedBid:
    """A proxy bid built ahead of its instant (``BuyOfferApi.prepare_proxy_bid``): firing it is
    one send on a warm connection, with no URL, header or JSON work on the critical path."""

    item_id: str
    max_amount: Money
    adult_only: bool
    built: httpx.Request


class BuyOfferApi:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def prepare_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
    ) -> PreparedBid:
        """Build the bid request now, to send it later with ``place_proxy_bid(prepared=...)``."""
        request = self._proxy_bid_request(access_token, item_id, max_amount, adult_only)
        return PreparedBid(item_id, max_amount, adult_only, self._transport.build(request))

    def place_proxy_bid(
        self,
        access_token: str | SecretStr,
        item_id: str,
        max_amount: Money,
        adult_only: bool = False,
        deadline: float | None = None,
        *,
        retry_on_timeout: bool = False,
        read_timeout: float | None = None,
        prepared: PreparedBid | None = None,
    ) -> ProxyBidResult:
        """Place (or raise) the user's proxy bid.

        ``retry_on_timeout`` also covers 500/502/504 and dropped connections: after those eBay
        may have accepted the bid, so by default the caller gets :class:`EbayUnavailable` with
        ``maybe_processed=True`` and decides (e.g. by calling :meth:`get_bidding`).
        ``prepared``, from :meth:`prepare_proxy_bid` for the same item, amount and token, is
        sent as built.
        """
        rest_id = rest_item_id(item_id)
        request = self._proxy_bid_request(access_token, item_id, max_amount, adult_only)
        if prepared is not None:
            if (prepared.item_id, prepared.max_amount, prepared.adult_only) != (
                item_id,
                max_amount,
                adult_only,
            ):
                raise ValueError("the prepared bid is for another item or amount")
            request = replace(request, built=prepared.built)
        exchange = self._transport.send(
            request,
            deadline=deadline,
            retry_on_timeout=retry_on_timeout,
            read_timeout=read_timeout,
        )
        body = self._transport.rest_result(exchange)
        proxy_bid_id = body.get("proxyBidId") if isinstance(body, Mapping) else None
        if not proxy_bid_id:
            raise EbayProtocolError(
                "bid response without proxyBidId", http_status=exchange.response.status_code
            )
        logger.info(
            "ebay proxy bid accepted",
            item_id=rest_id,
            sent_ms=exchange.sent_ms,
            received_ms=exchange.received_ms,
        )
        return ProxyBidResult(proxy_bid_id=str(proxy_bid_id), timing=exchange.sample)

    def _proxy_bid_request(
        self, access_token: str | SecretStr, item_id: str, max_amount: Money, adult_only: bool
    ) -> Request:
        rest_id = rest_item_id(item_id)
        bidding_url = f"{self._transport.config.api_base_url}{OFFER_PATH}/{quote(rest_id, safe='')}"
        return Request(
            operation="place_proxy_bid",
            method="POST",
            url=f"{bidding_url}/place_proxy_bid",
            headers=self._transport.bearer_headers(access_token, json_body=True),
            json={"maxAmount": max_amount.to_ebay(), "userConsent": {"adultOnlyItem": adult_only}},
        )

    def get_bidding(
        self, access_token: str | SecretStr, item_id: str, *, deadline: float | None = None
    ) -> BiddingStatus:
        rest_id = rest_item_id(item_id)
        request = Request(
            operation="get_bidding",
            method="GET",
            url=f"{self._transport.config.api_base_url}{OFFER_PATH}/{quote(rest_id, safe='')}",
            headers=self._transport.bearer_headers(access_token),
        )
        exchange = self._transport.send(request, deadline=deadline, retry_on_timeout=True)
        body = self._transport.rest_result(exchange)
        try:
            return bidding_from(body)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("unreadable bidding response") from exc


def bidding_from(body: Mapping[str, Any]) -> BiddingStatus:
    """getBidding's ``Bidding``."""
    proxy = body.get("currentProxyBid")
    proxy_map: Mapping[str, Any] = proxy if isinstance(proxy, Mapping) else {}
    suggested = body.get("suggestedBidAmounts") or []
    return BiddingStatus(
        item_id=body.get("itemId"),
        auction_status=str(body["auctionStatus"]),
        high_bidder=bool(body.get("highBidder", False)),
        current_price=money_or_none(body.get("currentPrice")),
        bid_count=int(body.get("bidCount") or 0),
        current_proxy_bid=money_or_none(proxy_map.get("maxAmount")),
        proxy_bid_id=proxy_map.get("proxyBidId"),
        auction_end_ms=epoch_ms_or_none(body.get("auctionEndDate")),
        reserve_price_met=bool_or_none(body.get("reservePriceMet")),
        suggested_bid_amounts=tuple(
            m for m in (money_or_none(s) for s in suggested) if m is not None
        ),
    )
