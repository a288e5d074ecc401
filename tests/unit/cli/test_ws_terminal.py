"""`sniper ws` prints text that sellers and servers wrote (titles, reasons, messages) to a
terminal: as one line, and never as the terminal's control sequences."""

from __future__ import annotations

import io
import re
import time

from cli.ws import Watcher, format_event
from realtime.protocol import encode, envelope

# What a seller may put in a title: an OSC sequence retitling the terminal, a screen clear, a
# newline, a right-to-left override.
HOSTILE = "Evil\x1b]0;pwned\x07\x1b[2J\nsecond line\u202eRTL\x9b31m"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_a_hostile_title_is_printed_on_one_line_without_control_characters():
    # Given a bid.created whose item title carries control sequences
    data = {"itemTitle": HOSTILE, "maxBidAmount": 5000, "currency": "USD", "status": "PENDING"}
    message = envelope("bid.created", "e1", 1, data, bid_id="b1", ebay_item_id="1")
    # When the CLI formats it for a terminal
    line = format_event(message)
    # Then it is one line with no control character, the title still readable
    assert not CONTROL.search(line)
    assert "Evil\\u001b]0;pwned\\u0007\\u001b[2J\\u000asecond line\\u202eRTL\\u009b31m" in line


def test_the_countdown_line_shows_a_hostile_title_without_control_characters():
    # Given a watcher that knows a snipe with such a title
    watcher = Watcher("ws://unused", "token", out=io.StringIO())
    snipe = {"bidId": "b1", "ebayItemId": "1", "auctionEndTime": int(time.time()) + 300}
    snipe["itemTitle"] = HOSTILE
    data = {"snipes": [snipe], "part": 1, "parts": 1}
    watcher._handle(encode(envelope("snapshot", "s1", int(time.time() * 1000), data)))
    # When the live countdown is drawn / Then it holds no control character
    assert watcher._countdown().startswith("next: Evil")
    assert not CONTROL.search(watcher._countdown())
