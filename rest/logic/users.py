"""Profile, preferences and account deletion."""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock, now_ms
from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.history import HistoryRepository
from common.data.users import UsersRepository, ebay_account_guard_key, email_guard_key
from common.errors import BadRequestError, FieldIssue
from common.models import Preferences, UserEntity
from common.scheduling import SnipeScheduler


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
) -> DeletedCounts:
    """Remove the user and everything of theirs: snipes, history, connections, guards, tokens.

    Schedules go first: if deleting them fails the request fails with nothing else deleted, and
    a retry still finds the snipes whose schedules it must delete.
    """
    if scheduler is not None:
        scheduler.cancel(b.bidId for b in bids.all_keys(user_id))
    deleted_bids = bids.delete_user_bids(user_id)
    history_count = history.delete_user_history(user_id)
    connection_count = connections.delete_user_connections(user_id)
    user = users.get(user_id)
    keys = [user_id]
    if user is not None:
        keys.append(email_guard_key(user.email))
        if user.ebayAccountId:
            keys.append(ebay_account_guard_key(user.ebayAccountId))
    users.delete_keys(keys)
    return DeletedCounts(len(deleted_bids), history_count, connection_count)
