"""Profile, preferences and account deletion."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.clock import Clock, now_ms
from common.data.ports import BidStore, ConnectionStore, GroupStore, HistoryStore, UserStore
from common.errors import BadRequestError, FieldIssue, NotFoundError, RetryableError
from common.models import Preferences, UserEntity
from common.observability import logger
from common.scheduling import SnipeScheduler

# The longest an ID or access token lives: template.yaml's UserPoolClient gives both 60
# minutes (tests/unit/test_account_tombstone.py holds the two together). A deleted account's
# tombstone outlives the last token Cognito could issue, with room for clock skew.
LONGEST_TOKEN_SECONDS = 60 * 60
TOMBSTONE_SECONDS = LONGEST_TOKEN_SECONDS + 5 * 60


# The caller's verified sign-in email, asked for only when a profile needs it: an ID token's
# claim, or what Cognito answers for an access token, which has none (rest.app.sign_in_email).
SignInEmail = Callable[[], str | None]


class SocketCloser(Protocol):
    """Closes an open WebSocket (the WebSocket API's ``DELETE @connections/{id}``)."""

    def disconnect(self, connection_id: str) -> None: ...


class Identities(Protocol):
    """The user pool's users (Cognito's ``AdminDeleteUser``)."""

    def delete(self, username: str) -> bool: ...


@dataclass(frozen=True)
class DeletedCounts:
    bids: int
    history: int
    connections: int


def get_or_create_profile(
    user_id: str, email: SignInEmail, users: UserStore, clock: Clock
) -> UserEntity:
    """The caller's profile, created on the first call with the sign-in email (an ID token's or
    an access token's alike); never for a deleted account (AccountDeletedError), whose token
    may outlive it by up to an hour."""
    existing = users.get_live(user_id)
    if existing is not None:
        return existing
    address = email()
    if not address:
        raise BadRequestError(
            "Cognito knows no email for this sign-in; sign in again",
            [FieldIssue("Authorization", "no email for this user")],
        )
    now = now_ms(clock)
    user = UserEntity(userId=user_id, email=address, createdAt=now, updatedAt=now)
    if users.create(user):
        return user
    # The key was taken between our read and our conditional write: by a concurrent first
    # call, or by a deletion's tombstone, which get_live refuses.
    existing = users.get_live(user_id)
    if existing is None:
        raise NotFoundError("No profile exists for this user")
    return existing


def update_profile(
    user_id: str,
    email_claim: SignInEmail,
    display_name: str | None,
    email: str | None,
    users: UserStore,
    clock: Clock,
) -> UserEntity:
    user = get_or_create_profile(user_id, email_claim, users, clock)
    if email is not None and email.strip().lower() != user.email.lower():
        _require_sign_in_email(email, email_claim())
    return users.update_profile(user, display_name, email, now_ms(clock))


def _require_sign_in_email(email: str, email_claim: str | None) -> None:
    """A profile's email is the address Cognito verified, never one typed in: emails about
    snipes go to it, and it holds the address's one-profile guard, so an unverified address
    would let anyone mail a stranger, or take their address before they sign up. A user who
    changed their email in Cognito (which keeps the old one until the new one is verified,
    template.yaml) signs in again and saves it here."""
    if email_claim is None or email.strip().lower() != email_claim.strip().lower():
        raise BadRequestError(
            "Your email must be the verified address you sign in with: change that first, "
            "then sign in again and save it here",
            [FieldIssue("email", "not your verified sign-in email")],
        )


def update_preferences(
    user_id: str,
    email_claim: SignInEmail,
    preferences: Preferences,
    users: UserStore,
    clock: Clock,
) -> UserEntity:
    get_or_create_profile(user_id, email_claim, users, clock)
    return users.update_preferences(user_id, preferences, now_ms(clock))


class AccountPorts(Protocol):
    """What deleting an account removes and closes (the users function's:
    rest.composition.UsersPorts)."""

    @property
    def users(self) -> UserStore: ...

    @property
    def bids(self) -> BidStore: ...

    @property
    def history(self) -> HistoryStore: ...

    @property
    def connections(self) -> ConnectionStore: ...

    @property
    def groups(self) -> GroupStore: ...

    @property
    def scheduler(self) -> SnipeScheduler: ...

    @property
    def socket_closer(self) -> SocketCloser: ...

    @property
    def identities(self) -> Identities: ...


def delete_account(
    user_id: str,
    ports: AccountPorts,
    *,
    username: str | None = None,
    clock: Clock = time.time,
) -> DeletedCounts:
    """Remove the user and everything of theirs: snipes and their schedules, history, open
    WebSockets, the profile with its eBay tokens, every guard item they own (email, snipe, eBay
    account, pending OAuth states, notification guards), their groups' rules and slot ledgers,
    and their Cognito user.

    The order makes any failure safe to retry (the request fails; the user sends it again):
    1. The profile is marked deleted first. From then on the account's tokens create no
       profile and change none, and the mark stays until a deletion completes.
    2. Schedules go before their snipes: a retry still finds the snipes whose schedules it must
       delete. The sockets are closed and forgotten before the snipes go, so they are not told
       about each deletion. Then snipes and history.
    3. The groups (those the index finds, and those the deleted snipes name, which a fresh
       write may not yet have put in the index), the guard items, then the profile is
       replaced by a tombstone holding only the user id, when deletion began and a TTL:
       TOMBSTONE_SECONDS, past the last token Cognito can issue before step 4.
    4. The Cognito user goes last: until then the user can still sign in and retry; after it,
       no new token can be issued, and the tombstone refuses the ones still valid. A user
       already gone (a retry after a lost answer) is fine.
    """
    # Typed locals: a reader (and tests/unit/static_calls.py, which follows names) sees which
    # port each call goes to.
    users: UserStore = ports.users
    bids: BidStore = ports.bids
    connections: ConnectionStore = ports.connections
    history: HistoryStore = ports.history
    groups: GroupStore = ports.groups
    scheduler: SnipeScheduler = ports.scheduler
    identities: Identities = ports.identities
    deleted_at = users.mark_deleted(user_id, now_ms(clock))
    scheduler.cancel(b.bidId for b in bids.all_keys(user_id))
    for connection_id in connections.connection_ids(user_id):
        _close(ports.socket_closer, connection_id)
    connection_count = connections.delete_user_connections(user_id)
    deleted_bids = bids.delete_user_bids(user_id)
    history_count = history.delete_user_history(user_id)
    groups.delete_user_groups(user_id, {b.groupId for b in deleted_bids if b.groupId})
    users.delete_keys(users.deletion_keys(user_id))
    users.leave_tombstone(user_id, deleted_at, int(clock()) + TOMBSTONE_SECONDS)
    identities.delete(username or user_id)
    return DeletedCounts(len(deleted_bids), history_count, connection_count)


def _close(sockets: SocketCloser, connection_id: str) -> None:
    """Close one socket. Its row is deleted either way, so a socket that cannot be closed now
    receives nothing more and ends within API Gateway's 2 hours: that does not fail the
    deletion."""
    try:
        sockets.disconnect(connection_id)
    except RetryableError:
        logger.warning("websocket not closed", connection_id=connection_id)
