"""GetMyeBayBuying's watch list through the simulator's Trading API endpoint."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
from sim_http_helpers import SimEnv

NS = {"e": "urn:ebay:apis:eBLBaseComponents"}

WATCH_LIST_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<GetMyeBayBuyingRequest xmlns="urn:ebay:apis:eBLBaseComponents">
  <WatchList><Include>true</Include>
    <Pagination><EntriesPerPage>{per_page}</EntriesPerPage><PageNumber>{page}</PageNumber></Pagination>
  </WatchList>
</GetMyeBayBuyingRequest>"""


def call(sim_env: SimEnv, token: str, body: str, name: str = "GetMyeBayBuying") -> ET.Element:
    response: httpx.Response = sim_env.client.post(
        "/ws/api.dll",
        content=body.encode(),
        headers={
            "X-EBAY-API-CALL-NAME": name,
            "X-EBAY-API-SITEID": "0",
            "X-EBAY-API-COMPATIBILITY-LEVEL": "1349",
            "X-EBAY-API-IAF-TOKEN": token,
            "Content-Type": "text/xml",
        },
    )
    assert response.status_code == 200
    assert "Date" in response.headers
    return ET.fromstring(response.content)


def test_watch_list_in_ebay_xml(sim_env: SimEnv) -> None:
    # Given three auctions alice watches, one with a $12.50 bid on it
    token = sim_env.user_token("alice")
    later = sim_env.create_auction(title="Later", endsInSeconds=3_700, watchedBy=["alice"])
    soon = sim_env.create_auction(title="Soon", endsInSeconds=120, startPrice=1_250)
    sim_env.client.post("/_sim/users/alice/watchlist", json={"legacyItemId": soon["legacyItemId"]})
    sim_env.create_auction(title="Middle", endsInSeconds=600, watchedBy=["alice"])
    sim_env.create_auction(title="Not watched", endsInSeconds=600)
    sim_env.client.post(
        f"/_sim/auctions/{soon['legacyItemId']}/bids", json={"bidder": "rival", "maxAmount": 1_250}
    )
    # When the first page of two is asked for
    root = call(sim_env, token, WATCH_LIST_REQUEST.format(per_page=2, page=1))
    # Then eBay's response lists the soonest-ending first with eBay's fields
    assert root.tag == "{urn:ebay:apis:eBLBaseComponents}GetMyeBayBuyingResponse"
    assert root.findtext("e:Ack", namespaces=NS) == "Success"
    assert root.findtext("e:Timestamp", namespaces=NS, default="").endswith("Z")
    items = root.findall("e:WatchList/e:ItemArray/e:Item", NS)
    assert [i.findtext("e:Title", namespaces=NS) for i in items] == ["Soon", "Middle"]
    first = items[0]
    assert first.findtext("e:ItemID", namespaces=NS) == soon["legacyItemId"]
    assert first.findtext("e:ListingType", namespaces=NS) == "Chinese"
    price = first.find("e:SellingStatus/e:CurrentPrice", NS)
    assert price is not None
    assert (price.text, price.get("currencyID")) == ("12.5", "USD")
    assert first.findtext("e:SellingStatus/e:BidCount", namespaces=NS) == "1"
    assert first.findtext("e:ListingDetails/e:EndTime", namespaces=NS) == soon["endTime"]
    assert first.findtext("e:TimeLeft", namespaces=NS, default="").startswith("PT1M")
    assert first.findtext("e:PictureDetails/e:GalleryURL", namespaces=NS)
    result = root.find("e:WatchList/e:PaginationResult", NS)
    assert result is not None
    assert result.findtext("e:TotalNumberOfPages", namespaces=NS) == "2"
    assert result.findtext("e:TotalNumberOfEntries", namespaces=NS) == "3"
    # When the second page is asked for / Then the last item is on it
    page_two = call(sim_env, token, WATCH_LIST_REQUEST.format(per_page=2, page=2))
    titles = page_two.findall("e:WatchList/e:ItemArray/e:Item/e:Title", NS)
    assert [t.text for t in titles] == ["Later"]
    assert later["legacyItemId"]


def test_bad_token_is_error_931(sim_env: SimEnv) -> None:
    # Given an unknown token / When the watch list is asked for / Then Ack Failure with 931
    root = call(sim_env, "v^1.1#i^1#made-up", WATCH_LIST_REQUEST.format(per_page=25, page=1))
    assert root.findtext("e:Ack", namespaces=NS) == "Failure"
    assert root.findtext("e:Errors/e:ErrorCode", namespaces=NS) == "931"
    assert root.findtext("e:Errors/e:ShortMessage", namespaces=NS) == "Auth token is invalid."
    assert root.findtext("e:Errors/e:SeverityCode", namespaces=NS) == "Error"


def test_dtds_and_entities_are_refused(sim_env: SimEnv) -> None:
    # Given a valid user and requests carrying a DOCTYPE or an entity declaration
    token = sim_env.user_token("alice")
    sim_env.create_auction(title="Secret", watchedBy=["alice"])
    billion_laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<GetMyeBayBuyingRequest xmlns="urn:ebay:apis:eBLBaseComponents">'
        "<WatchList><Include>true</Include></WatchList>&lol2;</GetMyeBayBuyingRequest>"
    )
    entity_only = billion_laughs.replace("<!DOCTYPE lolz [", "").replace("]>", "")
    # When they are sent / Then eBay's XML parse error, and no watch list
    for body in (billion_laughs, entity_only):
        root = call(sim_env, token, body)
        assert root.findtext("e:Ack", namespaces=NS) == "Failure"
        assert root.findtext("e:Errors/e:ErrorCode", namespaces=NS) == "5"
        assert root.find("e:WatchList", NS) is None


def test_other_calls_are_unsupported(sim_env: SimEnv) -> None:
    # Given a user / When another Trading call is made / Then eBay's unsupported call error
    token = sim_env.user_token("alice")
    root = call(sim_env, token, "<GetItemRequest/>", name="GetItem")
    assert root.findtext("e:Ack", namespaces=NS) == "Failure"
    assert root.findtext("e:Errors/e:ErrorCode", namespaces=NS) == "2"
