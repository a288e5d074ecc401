"""eBay's Browse API: an item (getItem, getItemByLegacyId) and many items' prices (getItems),
read with an application token."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from common.ebay.app_tokens import ApplicationTokens
from common.ebay.config import BULK_ITEMS_SCOPE
from common.ebay.errors import (
    BulkItemsDenied,
    EbayProtocolError,
    InvalidItemId,
    InvalidScope,
    ItemNotFound,
)
from common.ebay.models import (
    EbayItem,
    ItemPrice,
    bool_or_none,
    epoch_ms_or_none,
    legacy_item_id,
    money_or_none,
    rest_item_id,
)
from common.ebay.transport import Request, Transport

logger = Logger(child=True)

BROWSE_PATH = "/buy/browse/v1/item"
# getItems' item_ids: "A comma separated list of the unique identifiers of the items to
# retrieve (maximum 20)" (buy-browse-v1.yml).
MAX_ITEMS_PER_CALL = 20
# After eBay refused getItems (a Limited Release method), ask again this much later: the keyset
# may be granted it meanwhile, and asking costs one token request, no Browse call.
BULK_RECHECK_SECONDS = 3600


class BrowseApi:
    def __init__(self, transport: Transport, app_tokens: ApplicationTokens) -> None:
        self._transport = transport
        self._app_tokens = app_tokens
        self._bulk_refused_until = 0.0

    def get_item_by_legacy_id(
        self, legacy_id: str | int, *, deadline: float | None = None
    ) -> EbayItem:
        legacy = str(legacy_id).strip()
        if not legacy.isdigit():
            raise InvalidItemId(f"not an eBay item number: {legacy!r}")
        return self._item(
            "get_item_by_legacy_id",
            f"{BROWSE_PATH}/get_item_by_legacy_id",
            {"legacy_item_id": legacy},
            deadline,
        )

    def get_item(self, item_id: str, *, deadline: float | None = None) -> EbayItem:
        path = f"{BROWSE_PATH}/{quote(rest_item_id(item_id), safe='')}"
        return self._item("get_item", path, None, deadline)

    @property
    def items_per_call(self) -> int:
        """How many items one :meth:`get_items` call may ask for: getItems' 20, or 1 while eBay
        refuses this app getItems (it then answers with getItem)."""
        return 1 if self._transport.clock() < self._bulk_refused_until else MAX_ITEMS_PER_CALL

    def get_items(
        self, item_ids: Sequence[str], *, deadline: float | None = None
    ) -> list[ItemPrice]:
        """The prices of up to :attr:`items_per_call` items in one Browse call: getItems, or
        getItem for a single item while getItems is refused. Items eBay does not have are left
        out. :class:`BulkItemsDenied` (before any Browse call) when eBay refuses this app
        getItems and more than one item was asked for: ask again, one at a time."""
        ids = list(dict.fromkeys(rest_item_id(item_id) for item_id in item_ids))
        if len(ids) > MAX_ITEMS_PER_CALL:
            raise ValueError(f"getItems takes at most {MAX_ITEMS_PER_CALL} items")
        if not ids:
            return []
        if self.items_per_call == 1:
            if len(ids) > 1:
                raise BulkItemsDenied("getItems is refused to this app: one item per call")
            try:
                return [ItemPrice.of(self.get_item(ids[0], deadline=deadline))]
            except ItemNotFound:
                return []
        return self._get_items(ids, deadline)

    def _get_items(self, ids: list[str], deadline: float | None) -> list[ItemPrice]:
        def request_with(token: str) -> Request:
            return Request(
                operation="get_items",
                method="GET",
                url=f"{self._transport.config.api_base_url}{BROWSE_PATH}/",
                headers=self._transport.bearer_headers(token),
                params={"item_ids": ",".join(ids)},
            )

        try:
            exchange = self._app_tokens.send(
                request_with, deadline=deadline, scope=BULK_ITEMS_SCOPE
            )
        except InvalidScope as exc:
            raise self._bulk_refused("the keyset has no buy.item.bulk") from exc
        if exchange.response.status_code == 403:
            raise self._bulk_refused("getItems answered 403") from self._transport.rest_error(
                exchange
            )
        try:
            body = self._transport.rest_result(exchange)
        except ItemNotFound:
            return []  # none of them exists (errorId 11001)
        try:
            return [price_from(item) for item in body.get("items") or ()]
        except (AttributeError, KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("unreadable items response") from exc

    def _bulk_refused(self, why: str) -> BulkItemsDenied:
        self._bulk_refused_until = self._transport.clock() + BULK_RECHECK_SECONDS
        logger.warning("ebay refuses getItems; polling one item per call", reason=why)
        return BulkItemsDenied(f"getItems is refused to this app: {why}")

    def _item(
        self,
        operation: str,
        path: str,
        params: Mapping[str, str] | None,
        deadline: float | None,
    ) -> EbayItem:
        def request_with(token: str) -> Request:
            return Request(
                operation=operation,
                method="GET",
                url=f"{self._transport.config.api_base_url}{path}",
                headers=self._transport.bearer_headers(token),
                params=params,
            )

        exchange = self._app_tokens.send(request_with, deadline=deadline)
        body = self._transport.rest_result(exchange)
        try:
            return item_from(body)
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise EbayProtocolError("unreadable item response") from exc


def item_from(body: Mapping[str, Any]) -> EbayItem:
    """A Browse ``Item`` (getItem, getItemByLegacyId)."""
    item_id = str(body["itemId"])
    options: Iterable[Any] = body.get("buyingOptions") or ()
    buying_options = tuple(str(option) for option in options)
    image = body.get("image")
    seller = body.get("seller")
    return EbayItem(
        item_id=item_id,
        legacy_item_id=legacy_item_id(body),
        title=str(body.get("title") or ""),
        is_auction="AUCTION" in buying_options,
        buying_options=buying_options,
        current_bid_price=money_or_none(body.get("currentBidPrice")),
        minimum_price_to_bid=money_or_none(body.get("minimumPriceToBid")),
        bid_count=int(body.get("bidCount") or 0),
        end_time_ms=epoch_ms_or_none(body.get("itemEndDate")),
        image_url=image.get("imageUrl") if isinstance(image, Mapping) else None,
        condition=body.get("condition"),
        seller_username=seller.get("username") if isinstance(seller, Mapping) else None,
        reserve_price_met=bool_or_none(body.get("reservePriceMet")),
        buy_it_now_price=(
            money_or_none(body.get("price")) if "FIXED_PRICE" in buying_options else None
        ),
    )


def price_from(body: Mapping[str, Any]) -> ItemPrice:
    """One of getItems' items: a CoreItem with only that method's fields."""
    return ItemPrice(
        item_id=str(body["itemId"]),
        legacy_item_id=legacy_item_id(body),
        current_bid_price=money_or_none(body.get("currentBidPrice")),
        minimum_price_to_bid=money_or_none(body.get("minimumPriceToBid")),
        bid_count=int(body.get("bidCount") or 0),
        reserve_price_met=bool_or_none(body.get("reservePriceMet")),
    )
