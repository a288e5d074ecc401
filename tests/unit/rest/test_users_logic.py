"""rest/logic/users.py, ebay_auth.py's unlink and history.py without a database: the in-memory
repositories (tests/memory.py) and fakes."""

from __future__ import annotations

from typing import Any

import pytest

from common.data.cursor import CursorCodec
from common.data.ebay_links import NewLink
from common.errors import (
    AccountDeletedError,
    BadRequestError,
    NotFoundError,
    RetryableError,
    SnipeSealedError,
    ValidationFailed,
)
from common.history import history_entry
from common.models import BidStatus, ConnectionEntity, HistoryAction, UserEntity
from rest.logic import ebay_auth, history, users
from tests.fakes import AccountParts, FakeIdentities, FakeScheduler, FakeSocketCloser
from tests.memory import MemoryStores, add_snipe

NOW = 1_900_000_000.0
END = int(NOW) + 120
CREATED = int(NOW * 1000)
USER = "u1"


def clock() -> float:
    return NOW


def signed_in(address: str | None = "u1@example.com") -> users.SignInEmail:
    return lambda: address


class World(MemoryStores):
    """The in-memory repositories and the fakes account deletion also takes."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = FakeScheduler()
        self.sockets = FakeSocketCloser()
        self.identities = FakeIdentities()


@pytest.fixture
def stores() -> World:
    return World()


def delete(stores: World, sockets: Any = None) -> Any:
    ports = AccountParts(
        users=stores.users,
        bids=stores.bids,
        history=stores.history,
        connections=stores.connections,
        groups=stores.groups,
        scheduler=stores.scheduler,
        socket_closer=sockets or stores.sockets,
        identities=stores.identities,
    )
    return users.delete_account(USER, ports, clock=clock)


def socket(connection_id: str) -> ConnectionEntity:
    return ConnectionEntity(
        connectionId=connection_id, userId=USER, connectedAt=CREATED, ttl=END + 9000
    )


def linked(stores: MemoryStores, account: str = "ebay-a") -> UserEntity:
    user = users.get_or_create_profile(USER, signed_in(), stores.users, clock)
    stores.links.link(
        USER,
        NewLink(account, "envelope", int(NOW * 1000), int(NOW) + 7200, int(NOW) + 86_400),
        None,
    )
    return user


# ---------------------------------------------------------------------------------- profile


def test_the_first_call_makes_the_profile_with_the_sign_in_email(stores):
    # Given a new user
    # When their profile is asked for twice, the second time with no email at hand
    first = users.get_or_create_profile(USER, signed_in(), stores.users, clock)
    second = users.get_or_create_profile(USER, signed_in(None), stores.users, clock)
    # Then it was made once, with the address Cognito verified
    assert first == second
    assert first.email == "u1@example.com"


def test_no_profile_without_a_sign_in_email(stores):
    # Given a sign-in Cognito knows no email for
    # When the profile is first asked for
    # Then it is refused, and none was made
    with pytest.raises(BadRequestError):
        users.get_or_create_profile(USER, signed_in(None), stores.users, clock)
    assert stores.users.get(USER) is None


def test_a_profiles_email_is_only_ever_the_verified_sign_in_one(stores):
    # Given a profile
    users.get_or_create_profile(USER, signed_in(), stores.users, clock)
    # When the user types in another address, then signs in with it and saves it
    with pytest.raises(BadRequestError):
        users.update_profile(USER, signed_in(), "Ann", "new@example.com", stores.users, clock)
    saved = users.update_profile(
        USER, signed_in("new@example.com"), "Ann", "new@example.com", stores.users, clock
    )
    # Then only the verified one is stored
    assert (saved.email, saved.displayName) == ("new@example.com", "Ann")


# ---------------------------------------------------------------------------------- deletion


def test_deleting_an_account_removes_everything_of_the_user_and_leaves_a_tombstone(stores):
    # Given a linked user with a grouped snipe, its history, an open socket and a group rule
    linked(stores)
    bid = add_snipe(stores, "b1", group="cams", end=END, created_at=CREATED)
    stores.slots.take(USER, "cams", "b1", 1, contingency=False)
    for connection_id in ("c1", "c2"):
        stores.connections.put(socket(connection_id))
    # When they delete their account
    counts = delete(stores)
    # Then their snipe, history and sockets are gone, its schedule and their Cognito user too
    assert (counts.bids, counts.history, counts.connections) == (1, 1, 2)
    assert stores.bids.all_keys(USER) == []
    assert stores.scheduler.cancelled == [bid.bidId]
    assert stores.sockets.closed == ["c1", "c2"]
    assert stores.identities.deleted == [USER]
    # and nothing they owned is left but the tombstone, which refuses their still-valid token
    assert [k for k, item in stores.tables.users.items() if item.get("ownerId") == USER] == []
    assert list(stores.tables.users) == [USER]
    assert stores.tables.users[USER]["ttl"] == int(NOW) + users.TOMBSTONE_SECONDS
    with pytest.raises(AccountDeletedError):
        users.get_or_create_profile(USER, signed_in(), stores.users, clock)


def test_an_account_with_a_bid_being_placed_is_not_deleted_yet(stores):
    # Given a user whose snipe is sealed and placing its bid
    linked(stores)
    bid = add_snipe(stores, "b1", end=END, created_at=CREATED)
    claimed = stores.bids.replace(
        bid,
        bid.model_copy(update={"status": BidStatus.ARMED, "executionId": "x"}),
        [BidStatus.PENDING],
    )
    stores.bids.seal(claimed, "x", int(NOW * 1000))
    # When they delete their account
    with pytest.raises(SnipeSealedError):
        delete(stores)
    # Then nothing was deleted
    assert stores.bids.get(USER, bid.bidId) is not None
    assert stores.identities.deleted == []


def test_a_socket_that_cannot_be_closed_does_not_stop_the_deletion(stores):
    # Given a user with an open socket the WebSocket API will not close now
    users.get_or_create_profile(USER, signed_in(), stores.users, clock)
    stores.connections.put(socket("c1"))

    class Stuck:
        def disconnect(self, connection_id: str) -> None:
            raise RetryableError("the management API did not answer")

    # When they delete their account
    counts = delete(stores, Stuck())
    # Then the deletion went through, the socket's row included
    assert counts.connections == 1
    assert stores.identities.deleted == [USER]


# ---------------------------------------------------------------------------------- eBay link


def test_unlinking_reports_the_snipes_left_waiting_and_a_second_unlink_changes_nothing(stores):
    # Given a linked user with two active snipes
    linked(stores)
    add_snipe(stores, "b1", end=END, created_at=CREATED)
    add_snipe(stores, "b2", end=END, created_at=CREATED)
    # When they unlink, twice
    first = ebay_auth.unlink(USER, stores.links, stores.bids, clock)
    second = ebay_auth.unlink(USER, stores.links, stores.bids, clock)
    # Then the first removed the link, both say two snipes wait for a new one
    assert (first.unlinked, first.pending_snipes) == (True, 2)
    assert (second.unlinked, second.pending_snipes) == (False, 2)
    assert ebay_auth.link_status(USER, stores.links).is_linked is False


def test_no_linking_starts_for_a_deleted_account(stores):
    # Given a deleted account
    stores.users.mark_deleted(USER, int(NOW * 1000))

    class Oauth:
        def authorization_url(self, state: str) -> str:
            raise AssertionError("eBay's URL was built")

    # When a token of theirs starts linking
    # Then it is refused before eBay's URL is built
    with pytest.raises(AccountDeletedError):
        ebay_auth.start_linking(USER, stores.users, stores.links, Oauth(), clock)


# ---------------------------------------------------------------------------------- history


def test_history_pages_newest_first_and_an_unknown_snipe_has_none(stores):
    # Given a snipe created and then changed twice
    bid = add_snipe(stores, "b1", end=END, created_at=CREATED)
    for n in (1, 2):
        current = stores.bids.require(USER, bid.bidId)
        after = current.model_copy(update={"maxBidAmount": 5000 + n})
        at = bid.createdAt + n
        stores.bids.transition(
            current,
            after,
            history_entry(after, HistoryAction.UPDATE, at, 30, {}),
            [BidStatus.PENDING],
        )
    codec = CursorCodec(b"k" * 32)
    # When its history is read two at a time
    first, cursor = history.snipe_history(USER, bid.bidId, 2, None, stores.history, codec)
    rest, last = history.snipe_history(USER, bid.bidId, 2, cursor, stores.history, codec)
    # Then it comes newest first, and another id has none (404)
    assert [e.action for e in first + rest] == [
        HistoryAction.UPDATE,
        HistoryAction.UPDATE,
        HistoryAction.CREATE,
    ]
    assert last is None
    with pytest.raises(NotFoundError):
        history.snipe_history(USER, "nope", 2, None, stores.history, codec)
    with pytest.raises(ValidationFailed):
        history.list_history(USER, None, 10, 5, 10, None, stores.history, codec)
