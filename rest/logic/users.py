"""Profile, preferences and account deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.clock import Clock, now_ms
from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.history import HistoryRepository
from common.data.users import UsersRepository, ebay_account_guard_key, email_guard_key
from common.errors import BadRequestError, FieldIssue, RetryableError
from common.models import Preferences, UserEntity
from common.observability import logger
from common.scheduling import SnipeScheduler


class SocketCloser(Protocol):
    """Closes an open WebSocket (the WebSocket API's ``DELETE @connections/{id}``)."""

    def disconnect(self, connection_id: str) -> None: ...


@dataclass(frozen=True)
class DeletedCounts:
    bids: int
    history: int
    connections: int


def get_or_create_profile(
    user_id: str, email: str | None, users: UsersRepository, clock: Clock
) -> UserEntity:
    """The caller's profile, created on the first call from the token's email."""
    existing = users.get(user_id)
    if existing is not None:
        return existing
    if not email:
        raise BadRequestError(
            "The token carries no email claim; sign in with the ID token",
            [FieldIssue("Authorization", "no email claim")],
        )
    now = now_ms(clock)
    user = UserEntity(userId=user_id, email=email, createdAt=now, updatedAt=now)
    if users.create(user):
        return user
    # A concurrent first call created it between our read and our conditional write.
    return users.require(user_id)


def update_profile(
    user_id: str,
    email_claim: str | None,
    display_name: str | None,
    email: str | None,
    users: UsersRepository,
    clock: Clock,
) -> UserEntity:
    user = get_or_create_profile(user_id, email_claim, users, clock)
    return users.update_profile(user, display_name, email, now_ms(clock))


def update_preferences(
    user_id: str,
    email_claim: str | None,
    preferences: Preferences,
    users: UsersRepository,
    clock: Clock,
) -> UserEntity:
    get_or_create_profile(user_id, email_claim, users, clock)
    return users.update_preferences(user_id, preferences, now_ms(clock))


def delete_account(
    user_id: str,
    users: UsersRepository,
    bids: BidsRepository,
    history: HistoryRepository,
    connections: ConnectionsRepository,
    scheduler: SnipeScheduler | None = None,
    sockets: SocketCloser | None = None,
) -> DeletedCounts:
    """Remove the user and everything of theirs: snipes and their schedules, history, open
    WebSockets, the profile with its eBay tokens, and every guard item they own (email, snipe,
    eBay account, pending OAuth states, notification guards).

    Schedules go first: if deleting them fails the request fails with nothing else deleted, and
    a retry still finds the snipes whose schedules it must delete. The sockets are closed and
    forgotten before the snipes go, so they are not told about each deletion.
    """
    if scheduler is not None:
        scheduler.cancel(b.bidId for b in bids.all_keys(user_id))
    if sockets is not None:
        for connection_id in connections.connection_ids(user_id):
            _close(sockets, connection_id)
    connection_count = connections.delete_user_connections(user_id)
    deleted_bids = bids.delete_user_bids(user_id)
    history_count = history.delete_user_history(user_id)
    user = users.get(user_id)
    keys = {user_id, *users.owned_keys(user_id)}
    if user is not None:
        keys.add(email_guard_key(user.email))
        if user.ebayAccountId:
            keys.add(ebay_account_guard_key(user.ebayAccountId))
    users.delete_keys(sorted(keys))
    return DeletedCounts(len(deleted_bids), history_count, connection_count)


def _close(sockets: SocketCloser, connection_id: str) -> None:
    """Close one socket. Its row is deleted either way, so a socket that cannot be closed now
    receives nothing more and ends within API Gateway's 2 hours: that does not fail the
    deletion."""
    try:
        sockets.disconnect(connection_id)
    except RetryableError:
        logger.warning("websocket not closed", connection_id=connection_id)
