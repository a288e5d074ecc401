"""eBay's Trading API: the GetMyeBayBuying watch list, XML out, XML in (parsed with defusedxml),
with the user's access token."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import SecretStr, ValidationError

from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayProtocolError,
    EbayRateLimited,
    EbayUnavailable,
)
from common.ebay.models import (
    ClockSample,
    Money,
    WatchItem,
    WatchListPage,
    ebay_datetime_to_epoch_ms,
)
from common.ebay.transport import Request, Transport, secret

NAMESPACE = "urn:ebay:apis:eBLBaseComponents"
MAX_ENTRIES_PER_PAGE = 200

# Trading error codes worth a type; others become a plain EbayError carrying the code.
_AUTH_CODES = frozenset({931, 932, 16110, 17470, 21916013, 21916984, 21917053})
_RATE_LIMIT_CODES = frozenset({518, 21919144})
_UNAVAILABLE_CODES = frozenset({10007, 16100})


def watch_list_request(page: int, per_page: int) -> bytes:
    if page < 1:
        raise ValueError("page starts at 1")
    if not 1 <= per_page <= MAX_ENTRIES_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_ENTRIES_PER_PAGE}")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<GetMyeBayBuyingRequest xmlns="{NAMESPACE}">'
        "<ErrorLanguage>en_US</ErrorLanguage>"
        "<WarningLevel>High</WarningLevel>"
        "<WatchList><Include>true</Include>"
        f"<Pagination><EntriesPerPage>{per_page}</EntriesPerPage>"
        f"<PageNumber>{page}</PageNumber></Pagination>"
        "</WatchList>"
        "</GetMyeBayBuyingRequest>"
    ).encode()


def parse_xml(body: bytes) -> ET.Element:
    """Parse eBay's XML refusing DTDs, entity declarations and external references."""
    try:
        root: ET.Element = fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (DefusedXmlException, ET.ParseError) as exc:
        raise EbayProtocolError(f"unreadable Trading API response: {type(exc).__name__}") from exc
    return root


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None


def _int(element: ET.Element | None, path: str, default: int = 0) -> int:
    text = _text(element, path)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise EbayProtocolError(f"{path} is not a number") from exc


def _trading_error(root: ET.Element, timing: ClockSample | None) -> EbayError:
    errors = [e for e in root.findall("{*}Errors") if _text(e, "{*}SeverityCode") != "Warning"]
    first = errors[0] if errors else None
    code_text = _text(first, "{*}ErrorCode")
    code = int(code_text) if code_text and code_text.isdigit() else None
    message = _text(first, "{*}ShortMessage") or _text(first, "{*}LongMessage") or "eBay error"
    kind: Callable[..., EbayError] = EbayError
    if code in _AUTH_CODES:
        kind = EbayAuthError
    elif code in _RATE_LIMIT_CODES:
        kind = EbayRateLimited
    elif code in _UNAVAILABLE_CODES:
        kind = EbayUnavailable
    return kind(message, error_id=code, http_status=200, timing=timing)


def _watch_item(item: ET.Element) -> WatchItem:
    price_element = item.find("{*}SellingStatus/{*}CurrentPrice")
    price: Money | None = None
    if price_element is not None and price_element.text:
        price = Money.from_ebay(price_element.text, price_element.get("currencyID"))
    bid_count_path = (
        "{*}SellingStatus/{*}BidCount"
        if item.find("{*}SellingStatus/{*}BidCount") is not None
        else "{*}BidCount"
    )
    end = _text(item, "{*}ListingDetails/{*}EndTime")
    item_id = _text(item, "{*}ItemID")
    if item_id is None:
        raise EbayProtocolError("watch list item without ItemID")
    return WatchItem(
        legacy_item_id=item_id,
        title=_text(item, "{*}Title") or "",
        current_price=price,
        bid_count=_int(item, bid_count_path),
        end_time_ms=ebay_datetime_to_epoch_ms(end) if end else None,
        image_url=_text(item, "{*}PictureDetails/{*}GalleryURL"),
        listing_type=_text(item, "{*}ListingType"),
    )


def parse_watch_list(body: bytes, *, page: int, timing: ClockSample | None = None) -> WatchListPage:
    root = parse_xml(body)
    ack = _text(root, "{*}Ack")
    if ack not in {"Success", "Warning"}:
        raise _trading_error(root, timing)
    watch_list = root.find("{*}WatchList")
    if watch_list is None:
        return WatchListPage(items=[], page=page, total_pages=0, total_entries=0)
    try:
        items = [_watch_item(item) for item in watch_list.findall("{*}ItemArray/{*}Item")]
    except (ValueError, ValidationError) as exc:
        raise EbayProtocolError("unreadable watch list item") from exc
    pagination = watch_list.find("{*}PaginationResult")
    return WatchListPage(
        items=items,
        page=page,
        total_pages=_int(pagination, "{*}TotalNumberOfPages", 1 if items else 0),
        total_entries=_int(pagination, "{*}TotalNumberOfEntries", len(items)),
    )


class TradingApi:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get_watch_list(
        self,
        access_token: str | SecretStr,
        page: int = 1,
        per_page: int = 25,
        *,
        deadline: float | None = None,
    ) -> WatchListPage:
        config = self._transport.config
        request = Request(
            operation="get_watch_list",
            method="POST",
            url=config.trading_url,
            headers={
                "X-EBAY-API-CALL-NAME": "GetMyeBayBuying",
                "X-EBAY-API-SITEID": config.trading_site_id,
                "X-EBAY-API-COMPATIBILITY-LEVEL": config.trading_compatibility_level,
                "X-EBAY-API-IAF-TOKEN": secret(access_token),
                "Content-Type": "text/xml; charset=utf-8",
            },
            content=watch_list_request(page, per_page),
        )
        exchange = self._transport.send(request, deadline=deadline, retry_on_timeout=True)
        if exchange.response.status_code >= 400:
            raise self._transport.rest_error(exchange)
        return parse_watch_list(exchange.response.content, page=page, timing=exchange.sample)
