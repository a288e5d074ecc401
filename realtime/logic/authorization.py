"""Whom a WebSocket's token names: a valid Cognito token of a live account, else Unauthorized.

A valid token of a deleted account (its profile's tombstone, common/data/users.py) is refused
too: the token outlives the account by up to an hour, and nothing but the $connect authorizer
stands before $connect's write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from common.errors import AccountDeletedError
from common.models import UserEntity
from common.observability import logger
from realtime.auth import InvalidToken


class Verifier(Protocol):
    """Checks a Cognito token (realtime.auth.TokenVerifier); raises InvalidToken."""

    def verify(self, token: str | None) -> Mapping[str, Any]: ...


class LiveProfiles(Protocol):
    """common.data.users.UsersRepository: AccountDeletedError for a deleted account."""

    def get_live(self, user_id: str) -> UserEntity | None: ...


class Unauthorized(Exception):
    """API Gateway maps exactly this message, "Unauthorized", to a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorized_user(token: str | None, verifier: Verifier, users: LiveProfiles) -> str:
    """The user id ``token`` names; Unauthorized when it is not valid or the account is
    deleted."""
    try:
        claims = verifier.verify(token)
    except InvalidToken as exc:
        logger.info("websocket token refused", reason=str(exc))
        raise Unauthorized() from exc
    user_id = str(claims["sub"])
    # A read: $connect writes to the Connections table, and checking the profile in that write
    # would make it a transaction across two tables. What stays open: a socket authorised
    # before a concurrent deletion marks the profile, and recorded after that deletion's sweep
    # of the user's sockets, keeps its row until the row's TTL (about 2 hours).
    try:
        users.get_live(user_id)
    except AccountDeletedError as exc:
        logger.info("websocket token refused", reason="account deleted")
        raise Unauthorized() from exc
    return user_id
