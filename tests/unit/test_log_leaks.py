"""The log check of tests/log_leaks.py finds what it must.

That a pytest run which leaks fails (the plugin in real pytest processes, with xdist workers) is
tests/integration/test_log_leak_check_runs.py: each run starts pytest processes, seconds each.
"""

from __future__ import annotations

import logging

import pytest

from tests.log_leaks import find_leaks, secret_values, static_secrets

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0."
    "eyJzdWIiOiJ1c2VyLWEiLCJlbWFpbCI6ImFAZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJl"
)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'{{"level":"INFO","message":"authorized","token":"{JWT}"}}', "JWT"),
        ("INFO local.gateway: Authorization: Bearer abcdefghijklmnop0123", "bearer token"),
        ('{"message":"refreshed","access":"v^1.1#i^1#p^3#r^1#I^3#f^0#t^H4sIAAAA"}', "eBay token"),
        ('{"message":"profile created","email":"ann@example.com"}', "email address"),
        ("WARNING mail to First.Last+tag@mail.example.co.uk bounced", "email address"),
        ("keyset PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b loaded", "secret"),
        ("postmark token local-postmark-server-token", "secret"),
    ],
)
def test_each_kind_of_leak_is_found_and_masked(line: str, kind: str) -> None:
    # Given a log line holding a token, a secret or an email address
    # When the lines are searched with the stack's static secrets
    leaks = find_leaks(["an innocent line", line], static_secrets())
    # Then exactly that line is reported, with the leaked text masked
    assert [leak.kind for leak in leaks] == [kind]
    assert f"[{kind}]" in leaks[0].line
    assert "ann@example.com" not in leaks[0].line
    assert "v^1.1#" not in leaks[0].line


def test_secrets_read_at_run_time_are_searched_for() -> None:
    # Given the secrets the product read: a generated cursor key and a JSON keyset
    cursor_key = "Qm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u"
    learned = secret_values(cursor_key) | secret_values(
        '{"clientId": "SimSnipe-app", "clientSecret": "sekret-0123456789", "ruName": "Run-Name"}'
    )
    # Then the key and the client secret are searched for, the public identifiers are not
    assert learned == {cursor_key, "sekret-0123456789"}
    # and a line holding either is a leak
    lines = [f"signing with {cursor_key}", "client sekret-0123456789", "app SimSnipe-app"]
    assert [leak.line for leak in find_leaks(lines, learned)] == [
        "signing with [secret]",
        "client [secret]",
    ]


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"INFO","message":"snipe placed","bid_id":"1717171717171ab12cd34ef5"}',
        "INFO local.gateway: 401 GET /bids: the token has expired",
        "GET https://api.ebay.com/buy/browse/v1/item/v1|123|0 @ 12:00",
        "packages: foo@1.2.3 and a decorator @router.get",
        "cursor eyJsYXN0IjogeyJ1c2VySWQiOiAidS0xIn19",  # one base64 JSON segment: not a JWT
    ],
)
def test_ordinary_lines_are_not_leaks(line: str) -> None:
    assert find_leaks([line], static_secrets()) == []


def test_aws_calls_are_not_logged_whole_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    # Given a function whose root logger is at DEBUG (Lambda's application log level)
    import common.observability  # noqa: F401

    caplog.set_level(logging.DEBUG)
    # Then botocore's wire lines (whole items, secret values) are not written
    for name in ("botocore.endpoint", "botocore.parsers", "botocore.hooks"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)
    # while other debug lines are
    assert logging.getLogger("tests.any").isEnabledFor(logging.DEBUG)
