"""The Trading API alone (``TradingApi``): the watch list request eBay expects and a parser that
refuses hostile XML."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from common.ebay.errors import EbayAuthError, EbayProtocolError
from common.ebay.models import Money
from common.ebay.trading import TradingApi
from common.ebay.transport import Transport

WATCH_LIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<GetMyeBayBuyingResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Timestamp>2023-11-14T22:13:20.000Z</Timestamp>
  <Ack>Success</Ack>
  <Version>1193</Version>
  <WatchList>
    <ItemArray>
      <Item>
        <ItemID>110552222222</ItemID>
        <ListingDetails><EndTime>2023-11-15T22:13:20.000Z</EndTime></ListingDetails>
        <ListingType>Chinese</ListingType>
        <SellingStatus>
          <CurrentPrice currencyID="USD">12.50</CurrentPrice>
          <BidCount>4</BidCount>
        </SellingStatus>
        <Title>Vintage lens &amp; cap</Title>
        <PictureDetails><GalleryURL>https://i.ebayimg.com/g.jpg</GalleryURL></PictureDetails>
      </Item>
      <Item>
        <ItemID>110553333333</ItemID>
        <ListingDetails><EndTime>2023-11-16T00:00:00.000Z</EndTime></ListingDetails>
        <ListingType>FixedPriceItem</ListingType>
        <SellingStatus><CurrentPrice currencyID="GBP">5.00</CurrentPrice></SellingStatus>
        <Title>Strap</Title>
      </Item>
    </ItemArray>
    <PaginationResult>
      <TotalNumberOfPages>3</TotalNumberOfPages>
      <TotalNumberOfEntries>52</TotalNumberOfEntries>
    </PaginationResult>
  </WatchList>
</GetMyeBayBuyingResponse>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<GetMyeBayBuyingResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Ack>Success</Ack><WatchList><ItemArray><Item><ItemID>1</ItemID><Title>&lol4;</Title>
  </Item></ItemArray></WatchList>
</GetMyeBayBuyingResponse>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<GetMyeBayBuyingResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Ack>Success</Ack><WatchList><ItemArray><Item><ItemID>1</ItemID><Title>&secret;</Title>
  </Item></ItemArray></WatchList>
</GetMyeBayBuyingResponse>"""


def answering(body: bytes, seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})

    return handler


def test_watch_list_request_and_parse(make_transport: Callable[..., Transport]) -> None:
    # Given a user's watch list on eBay
    seen: list[httpx.Request] = []
    trading = TradingApi(make_transport(answering(WATCH_LIST, seen)))
    # When page 2 is read, 25 per page
    page = trading.get_watch_list("user-token", page=2, per_page=25)
    # Then the Trading API got its headers and pagination
    request = seen[0]
    assert str(request.url) == "https://api.sandbox.ebay.com/ws/api.dll"
    assert request.headers["X-EBAY-API-CALL-NAME"] == "GetMyeBayBuying"
    assert request.headers["X-EBAY-API-SITEID"] == "0"
    assert request.headers["X-EBAY-API-COMPATIBILITY-LEVEL"] == "1193"
    assert request.headers["X-EBAY-API-IAF-TOKEN"] == "user-token"
    body = request.content.decode()
    assert "<EntriesPerPage>25</EntriesPerPage>" in body
    assert "<PageNumber>2</PageNumber>" in body
    # And the items are in the product's units
    assert (page.page, page.total_pages, page.total_entries) == (2, 3, 52)
    first, second = page.items
    assert first.legacy_item_id == "110552222222"
    assert first.title == "Vintage lens & cap"
    assert first.current_price == Money(amount=1250, currency="USD")
    assert first.bid_count == 4
    assert first.end_time == 1_700_086_400
    assert first.image_url == "https://i.ebayimg.com/g.jpg"
    assert first.is_auction is True
    assert second.is_auction is False
    assert second.bid_count == 0
    assert second.image_url is None


def test_an_empty_watch_list(make_transport: Callable[..., Transport]) -> None:
    body = (
        b'<GetMyeBayBuyingResponse xmlns="urn:ebay:apis:eBLBaseComponents">'
        b"<Ack>Success</Ack></GetMyeBayBuyingResponse>"
    )
    page = TradingApi(make_transport(answering(body, []))).get_watch_list("t")
    assert page.items == []
    assert page.total_entries == 0


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["xml-bomb", "xxe"])
def test_hostile_xml_is_refused_without_expanding_it(
    make_transport: Callable[..., Transport], hostile: bytes
) -> None:
    # Given a response declaring entities (a bomb, or a file reference)
    trading = TradingApi(make_transport(answering(hostile, [])))
    # When read / Then the parser refuses it outright: nothing is expanded or fetched
    with pytest.raises(EbayProtocolError):
        trading.get_watch_list("t")


def test_malformed_xml_is_a_protocol_error(make_transport: Callable[..., Transport]) -> None:
    with pytest.raises(EbayProtocolError):
        TradingApi(make_transport(answering(b"<not closed", []))).get_watch_list("t")


def test_a_refused_token_is_an_auth_error(make_transport: Callable[..., Transport]) -> None:
    # Given the Trading API's failure for an expired IAF token
    body = b"""<GetMyeBayBuyingResponse xmlns="urn:ebay:apis:eBLBaseComponents">
      <Ack>Failure</Ack>
      <Errors><ShortMessage>Expired IAF token.</ShortMessage><ErrorCode>21917053</ErrorCode>
      <SeverityCode>Error</SeverityCode></Errors>
    </GetMyeBayBuyingResponse>"""
    with pytest.raises(EbayAuthError) as caught:
        TradingApi(make_transport(answering(body, []))).get_watch_list("t")
    assert caught.value.error_id == 21917053


@pytest.mark.parametrize(("page", "per_page"), [(0, 25), (1, 0), (1, 201)])
def test_pagination_is_checked_before_calling(
    make_transport: Callable[..., Transport], page: int, per_page: int
) -> None:
    with pytest.raises(ValueError):
        TradingApi(make_transport(answering(WATCH_LIST, []))).get_watch_list(
            "t", page=page, per_page=per_page
        )
