"""Adapters for the REST functions: the shared ones from common.wiring, plus the cursor codec."""

from __future__ import annotations

from common.data.cursor import CursorCodec, default_codec
from common.wiring import (
    bids_repo,
    connections_repo,
    ebay_client,
    ebay_links_repo,
    history_repo,
    snipe_scheduler,
    token_cipher,
    users_repo,
)

__all__ = [
    "bids_repo",
    "connections_repo",
    "cursor_codec",
    "ebay_client",
    "ebay_links_repo",
    "history_repo",
    "snipe_scheduler",
    "token_cipher",
    "users_repo",
]


def cursor_codec() -> CursorCodec:
    return default_codec()
