"""One contract for the repositories logic takes (common/data/ports.py), run against both the
in-memory ones (tests/memory.py) and the DynamoDB ones on moto's server with the template's
tables: what a unit test learns from the in-memory repositories holds for DynamoDB.

Most of it is the conditional writes the money path rests on (docs/sniping-engine.md, I1-I5):
a transition on the version read and an allowed status, ``unsealed`` and ``freeze_before``
for the user's changes, the seal, the one-active-snipe guard, the active-snipe cap, the account
being deleted, and the group slot ledger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from common import aws
from common.data.bids import BidsRepository
from common.data.connections import ConnectionsRepository
from common.data.ebay_deletions import EbayDeletions, NoticeState
from common.data.ebay_links import EbayLinksRepository, NewLink
from common.data.email_guards import GuardStatus, NotificationGuards
from common.data.group_slots import GroupSlots
from common.data.groups import GroupMode, GroupRule, GroupsRepository
from common.data.history import HistoryRepository
from common.data.snipe_updates import SnipeUpdates
from common.data.users import UsersRepository
from common.errors import (
    AccountDeletedError,
    ActiveSnipeExists,
    ConflictError,
    EbayNotLinkedError,
    IdempotencyKeyTaken,
    RetryableError,
    SnipeSealedError,
    TooManyActiveSnipes,
    TooManyConnections,
)
from common.history import history_entry
from common.models import (
    BidEntity,
    BidStatus,
    ConnectionEntity,
    HistoryAction,
    KeyedCreate,
    UserEntity,
)
from local.aws import Provisioned
from tests.dynamo_faults import LateWrites, LostAnswers, body_of
from tests.memory import MemoryStores

NOW_MS = 1_900_000_000_000
END = NOW_MS // 1000 + 3600
USER = "user-contract"
ARMED_BY = "execution-1"


class DynamoStores:
    """The DynamoDB repositories on the template's tables, as MemoryStores lays them out."""

    def __init__(self) -> None:
        users_and_app_state_table = os.environ["USERS_TABLE"]
        self.client = boto3.client("dynamodb")
        self.bids = BidsRepository(
            os.environ["BIDS_TABLE"],
            users_and_app_state_table,
            os.environ["BID_HISTORY_TABLE"],
            self.client,
        )
        self.users = UsersRepository(users_and_app_state_table, self.client)
        self.history = HistoryRepository(os.environ["BID_HISTORY_TABLE"], self.client)
        self.connections = ConnectionsRepository(os.environ["CONNECTIONS_TABLE"], self.client)
        self.groups = GroupsRepository(users_and_app_state_table, self.client)
        self.slots = GroupSlots(users_and_app_state_table, self.client)
        self.links = EbayLinksRepository(users_and_app_state_table, self.client)
        self.deletions = EbayDeletions(users_and_app_state_table, self.client)
        self.updates = SnipeUpdates(os.environ["BIDS_TABLE"], self.client)
        self.users_and_app_state_table = users_and_app_state_table

    def link(self, user_id: str, account_id: str) -> None:
        self.client.update_item(
            TableName=self.users_and_app_state_table,
            Key={"userId": {"S": user_id}},
            UpdateExpression="SET ebayAccountId = :a, ebayLinkState = :l",
            ExpressionAttributeValues={":a": {"S": account_id}, ":l": {"S": "LINKED"}},
        )


class MemoryWithLink(MemoryStores):
    users_and_app_state_table = (
        "Users"  # what a socket's put names; the in-memory tables are one database
    )

    def link(self, user_id: str, account_id: str) -> None:
        self.users.link(user_id, account_id)


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryWithLink()
        return
    provisioned: Provisioned = request.getfixturevalue("clean_tables")
    assert provisioned
    yield DynamoStores()


# ---------------------------------------------------------------------------------- helpers


def new_snipe(
    bid_id: str = "b0001", item: str = "item-1", end: int = END, **changes: Any
) -> BidEntity:
    return BidEntity(
        userId=USER,
        bidId=bid_id,
        ebayItemId=item,
        itemId=f"v1|{item}|0",
        maxBidAmount=5000,
        currency="USD",
        leadSeconds=5,
        status=BidStatus.PENDING,
        auctionEndTime=end,
        itemTitle="A lot",
        createdAt=NOW_MS,
        updatedAt=NOW_MS,
        **changes,
    )


def entry(bid: BidEntity, action: HistoryAction = HistoryAction.CREATE, at: int = NOW_MS) -> Any:
    return history_entry(bid, action, at, 30, {})


def created(stores: Any, bid: BidEntity | None = None, **kwargs: Any) -> BidEntity:
    bid = bid or new_snipe()
    stores.bids.create(bid, entry(bid), **kwargs)
    return stores.bids.require(bid.userId, bid.bidId)


def profile(stores: Any, user_id: str = USER, *, linked: bool = True) -> UserEntity:
    user = UserEntity(userId=user_id, email=f"{user_id}@example.com", createdAt=1, updatedAt=1)
    assert stores.users.create(user)
    if linked:
        stores.link(user_id, f"ebay-{user_id}")
    return stores.users.require(user_id)


def armed(stores: Any, bid: BidEntity) -> BidEntity:
    claim = bid.model_copy(update={"status": BidStatus.ARMED, "executionId": ARMED_BY})
    return stores.bids.replace(bid, claim, [BidStatus.PENDING])


_tick = iter(range(1, 1_000_000))


def moved(stores: Any, bid: BidEntity, status: BidStatus, **kwargs: Any) -> BidEntity:
    after = bid.model_copy(update={"status": status})
    return stores.bids.transition(
        bid, after, entry(after, HistoryAction.UPDATE, NOW_MS + next(_tick)), **kwargs
    )


# ---------------------------------------------------------------------------------- snipes


def test_a_created_snipe_reads_back_with_its_history_and_counts_as_active(stores):
    # Given a new snipe
    bid = new_snipe()
    # When it is created
    stores.bids.create(bid, entry(bid))
    # Then it reads back as written, at version 1, with its CREATE entry, active and counted
    stored = stores.bids.require(USER, bid.bidId)
    assert stored == bid
    page, _ = stores.history.for_bid(USER, bid.bidId, 10, None)
    assert [e.action for e in page] == [HistoryAction.CREATE]
    assert [b.bidId for b in stores.bids.active_snipes(USER)] == [bid.bidId]
    assert stores.bids.active_count(USER) == 1


def test_a_second_active_snipe_on_one_item_is_a_conflict_until_the_first_ends(stores):
    # Given an active snipe on an item
    first = created(stores)
    # When another snipe on the same item is created
    second = new_snipe("b0002")
    with pytest.raises(ActiveSnipeExists) as refused:
        stores.bids.create(second, entry(second))
    # Then it was refused, and nothing of it was written; once the first is cancelled it goes in
    assert refused.value.message == "You already have an active snipe on this item"
    assert stores.bids.get(USER, "b0002") is None
    moved(stores, first, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    stores.bids.create(second, entry(second, at=NOW_MS + 5))
    assert stores.bids.require(USER, "b0002").status is BidStatus.PENDING


def test_a_create_key_names_its_snipe_to_a_retry_whatever_became_of_it(stores):
    # Given a snipe created with an idempotency key that filled its owner's cap
    first = created(stores, new_snipe(idempotencyKey="key-1"), max_active=1)
    assert first.idempotencyKey == "key-1"
    assert stores.bids.keyed_create(USER, "key-1") == KeyedCreate.of(first)
    assert stores.bids.keyed_create(USER, "key-2") is None
    # When a retry of it (a new bidId) is created on the same item
    retry = new_snipe("b0002", idempotencyKey="key-1")
    with pytest.raises(IdempotencyKeyTaken) as refused:
        stores.bids.create(retry, entry(retry, at=NOW_MS + 3), max_active=1)
    # Then the key's record refuses it (before the guard and the cap), naming the first and what
    # its create asked; nothing was written
    assert refused.value.made == KeyedCreate.of(first)
    assert stores.bids.get(USER, "b0002") is None
    assert stores.bids.active_count(USER) == 1
    # And once the first is cancelled (its guard and its slot free), the key still refuses a
    # create, on the item or on another
    moved(stores, first, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    for bid_id, item in (("b0003", "item-1"), ("b0004", "item-2")):
        again = new_snipe(bid_id, item, idempotencyKey="key-1")
        with pytest.raises(IdempotencyKeyTaken) as refused:
            stores.bids.create(again, entry(again, at=NOW_MS + 4), max_active=1)
        assert refused.value.made == KeyedCreate.of(first)
        assert stores.bids.get(USER, bid_id) is None
    # while another key makes a snipe
    created(stores, new_snipe("b0005", idempotencyKey="key-2"), max_active=1)


def test_a_withdrawn_snipes_key_is_taken_over_by_the_create_that_replaces_it_once(stores):
    # Given a snipe created with a key, then withdrawn (no wake-up: its create answered 503)
    first = created(stores, new_snipe(idempotencyKey="key-1"))
    moved(stores, first, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    # When the retry is created replacing it
    retry = new_snipe("b0002", idempotencyKey="key-1")
    stores.bids.create(retry, entry(retry, at=NOW_MS + 3), replaces=first.bidId)
    # Then the key names the retry's snipe, and a create replacing the first again is refused
    assert stores.bids.keyed_create(USER, "key-1") == KeyedCreate.of(retry)
    again = new_snipe("b0003", "item-2", idempotencyKey="key-1")
    with pytest.raises(IdempotencyKeyTaken) as refused:
        stores.bids.create(again, entry(again, at=NOW_MS + 4), replaces=first.bidId)
    assert refused.value.made == KeyedCreate.of(retry)
    assert stores.bids.get(USER, "b0003") is None


def test_one_request_a_fire_time_starts_the_executors_waiting_invocation(stores):
    # Given an active snipe, and another on another item
    bid = created(stores)
    other = created(stores, new_snipe("b0002", "item-2"))
    fire_at = bid.fire_at
    # When a create and its retry claim its wake-up for the same fire time / Then only the
    # first may start the invocation; the other snipe's claim is its own
    first = stores.bids.claim_wake(bid, fire_at)
    assert first is not None
    assert stores.bids.claim_wake(bid, fire_at) is None
    assert stores.bids.claim_wake(other, fire_at) is not None
    # and another fire time (a changed lead) is a new claim
    moved_to = stores.bids.claim_wake(bid, fire_at - 4)
    assert moved_to is not None
    # When a claim no longer held is given back / Then the one held stays
    stores.bids.give_back_wake(bid, first)
    assert stores.bids.claim_wake(bid, fire_at - 4) is None
    # and when the holder gives its own back (its invocation did not start), a retry claims it
    stores.bids.give_back_wake(bid, moved_to)
    assert stores.bids.claim_wake(bid, fire_at - 4) is not None
    # and once the snipe has ended nothing is claimed for it
    ended = moved(stores, bid, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    assert stores.bids.claim_wake(ended, fire_at + 10) is None
    stores.bids.give_back_wake(ended, moved_to)  # nothing to give back: no error


def test_a_wake_up_claim_whose_answer_was_lost_is_still_the_claim(stores):
    # Given an active snipe, and DynamoDB applying the claim but losing its answer, so
    # botocore sends it again and the repeat fails its own condition
    bid = created(stores)
    if isinstance(stores, DynamoStores):
        late = LateWrites(stores.client)
        late.arm(1, only="wokenFor")
    # When the claim is made / Then it is the claim: the repeat found its own token
    assert stores.bids.claim_wake(bid, bid.fire_at) is not None
    assert stores.bids.claim_wake(bid, bid.fire_at) is None
    if isinstance(stores, DynamoStores):
        assert late.late == ["UpdateItem"]
        late.close()


def test_the_active_snipe_cap_refuses_the_one_too_many_and_an_ending_frees_a_slot(stores):
    # Given a user with two active snipes and a cap of two
    a = created(stores, new_snipe("b0001", "item-1"), max_active=2)
    created(stores, new_snipe("b0002", "item-2"), max_active=2)
    # When a third is created
    third = new_snipe("b0003", "item-3")
    with pytest.raises(TooManyActiveSnipes):
        stores.bids.create(third, entry(third), max_active=2)
    # Then it was refused; after one of the two fails, it fits
    assert stores.bids.active_count(USER) == 2
    moved(stores, a, BidStatus.FAILED, allowed=[BidStatus.PENDING])
    assert stores.bids.active_count(USER) == 1
    stores.bids.create(third, entry(third, at=NOW_MS + 7), max_active=2)
    assert [b.bidId for b in stores.bids.active_snipes(USER)] == ["b0002", "b0003"]


@pytest.mark.parametrize(
    ("before", "final"),
    [
        (BidStatus.PENDING, BidStatus.CANCELLED),
        (BidStatus.ARMED, BidStatus.FAILED),
        (BidStatus.PLACED, BidStatus.WON),
        (BidStatus.PLACED, BidStatus.LOST),
    ],
)
def test_a_snipe_leaves_the_active_set_in_the_write_that_ends_it(stores, before, final):
    # Given an active snipe, counted in its owner's set and read through it
    bid = created(stores, new_snipe())
    if before is not BidStatus.PENDING:
        bid = armed(stores, bid)
    if before is BidStatus.PLACED:
        bid = moved(stores, bid, BidStatus.PLACED, allowed=[BidStatus.ARMED])
    assert [b.bidId for b in stores.bids.active_snipes(USER)] == [bid.bidId]
    # When a write that would end it loses a race (a stale version)
    stale = bid.model_copy(update={"version": bid.version - 1})
    with pytest.raises(ConflictError):
        moved(stores, stale, final, allowed=[before])
    # Then it is still active and still in the set: neither was written
    assert stores.bids.require(USER, bid.bidId).status is before
    assert stores.bids.active_count(USER) == 1
    # When the write that ends it goes in
    moved(stores, bid, final, allowed=[before])
    # Then the same write took it out of the set: no read finds it active any more
    assert stores.bids.require(USER, bid.bidId).status is final
    assert stores.bids.active_count(USER) == 0
    assert stores.bids.active_snipes(USER) == []
    assert stores.bids.active_page(USER, [before], 10, None) == ([], None)


def test_no_snipe_is_created_for_an_account_being_deleted(stores):
    # Given an account whose deletion began
    profile(stores)
    stores.users.mark_deleted(USER, NOW_MS)
    # When a snipe is created for it
    bid = new_snipe()
    with pytest.raises(AccountDeletedError):
        stores.bids.create(bid, entry(bid))
    # Then nothing was written
    assert stores.bids.get(USER, bid.bidId) is None


def test_a_transition_on_a_stale_version_is_a_conflict_and_writes_nothing(stores):
    # Given a snipe changed since it was read
    read = created(stores)
    moved(stores, read, BidStatus.PENDING, allowed=[BidStatus.PENDING])
    # When a change made on the old copy is written
    after = read.model_copy(update={"maxBidAmount": 9000})
    with pytest.raises(ConflictError):
        stores.bids.transition(
            read,
            after,
            entry(after, HistoryAction.UPDATE, NOW_MS + 99),
            allowed=[BidStatus.PENDING],
        )
    # Then the snipe keeps the newer change's maximum and version, and no entry was added
    stored = stores.bids.require(USER, read.bidId)
    assert (stored.maxBidAmount, stored.version) == (5000, 2)
    page, _ = stores.history.for_bid(USER, read.bidId, 10, None)
    assert len(page) == 2


def test_a_transition_from_a_status_not_allowed_is_a_conflict(stores):
    # Given a snipe that was claimed (ARMED)
    claimed = armed(stores, created(stores))
    # When the user's change, allowed only from PENDING, is written
    with pytest.raises(ConflictError):
        moved(stores, claimed, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    # Then it stays ARMED
    assert stores.bids.require(USER, claimed.bidId).status is BidStatus.ARMED


def test_a_transition_inside_the_freeze_window_is_a_conflict(stores):
    # Given a snipe whose freeze instant is stored
    bid = created(stores)
    # When a change conditional on a freeze instant still ahead comes at or after it
    with pytest.raises(ConflictError):
        moved(
            stores,
            bid,
            BidStatus.CANCELLED,
            allowed=[BidStatus.PENDING],
            freeze_before=bid.freeze_at,
        )
    # Then it was refused, and one second earlier it is written
    moved(
        stores,
        bid,
        BidStatus.CANCELLED,
        allowed=[BidStatus.PENDING],
        freeze_before=bid.freeze_at - 1,
    )
    assert stores.bids.require(USER, bid.bidId).status is BidStatus.CANCELLED


def test_the_seal_wins_over_an_unsealed_change_and_its_own_run_still_writes(stores):
    # Given a linked user's snipe that its run claimed and sealed
    profile(stores)
    sealed = stores.bids.seal(armed(stores, created(stores)), ARMED_BY, NOW_MS)
    # When the user cancels it (conditional on no seal) with the version they read
    with pytest.raises(ConflictError):
        moved(stores, sealed, BidStatus.CANCELLED, allowed=[BidStatus.ARMED], unsealed=True)
    # Then the cancel was refused, and the run's own outcome, not conditional on it, goes in
    placed = moved(stores, sealed, BidStatus.PLACED, allowed=[BidStatus.ARMED])
    assert stores.bids.require(USER, sealed.bidId) == placed
    assert placed.sealedAt == NOW_MS


def test_an_unsealed_change_goes_in_before_the_seal_and_then_the_seal_is_refused(stores):
    # Given a claimed snipe of a linked user, read by its run
    profile(stores)
    claimed = armed(stores, created(stores))
    # When the user's cancel, conditional on no seal, lands first
    moved(stores, claimed, BidStatus.CANCELLED, allowed=[BidStatus.ARMED], unsealed=True)
    # Then the run's seal on its copy is refused: exactly one of the two won
    with pytest.raises(ConflictError):
        stores.bids.seal(claimed, ARMED_BY, NOW_MS)
    assert not stores.bids.require(USER, claimed.bidId).sealed


@pytest.mark.parametrize(
    "spoil",
    ["another-run", "not-armed", "already-sealed", "stale-version"],
)
def test_the_seal_takes_only_the_armed_unsealed_snipe_of_this_run_as_read(stores, spoil):
    # Given a linked user's snipe and a copy of it that the seal must refuse
    profile(stores)
    bid = created(stores)
    copy = bid if spoil == "not-armed" else armed(stores, bid)
    run = "execution-2" if spoil == "another-run" else ARMED_BY
    if spoil == "already-sealed":
        copy = stores.bids.seal(copy, ARMED_BY, NOW_MS)
    if spoil == "stale-version":
        stores.bids.replace(
            copy, copy.model_copy(update={"countdownPhase": "FIRING"}), [BidStatus.ARMED]
        )
    before = stores.bids.require(USER, bid.bidId)
    # When it is sealed
    with pytest.raises(ConflictError):
        stores.bids.seal(copy, run, NOW_MS + 1)
    # Then nothing changed
    assert stores.bids.require(USER, bid.bidId) == before


def test_the_same_seal_sent_again_after_its_answer_was_lost_is_the_runs_seal(stores):
    # Given a linked user's claimed snipe, sealed (with the FIRING phase) by its run, which
    # never heard the answer
    profile(stores)
    firing = armed(stores, created(stores)).model_copy(update={"countdownPhase": "FIRING"})
    stores.bids.seal(firing, ARMED_BY, NOW_MS)
    # When the run sends the very same seal again (the copy in hand, the same instant)
    again = stores.bids.seal(firing, ARMED_BY, NOW_MS)
    # Then it is told the snipe is sealed, as stored; a seal at another instant is not its own
    assert again == stores.bids.require(USER, firing.bidId)
    assert (again.sealedAt, again.countdownPhase) == (NOW_MS, "FIRING")
    with pytest.raises(ConflictError):
        stores.bids.seal(firing, ARMED_BY, NOW_MS + 1)


@pytest.mark.parametrize(
    ("owner", "error"),
    [
        ("unlinked", EbayNotLinkedError),
        ("deleting", AccountDeletedError),
        ("nobody", AccountDeletedError),
    ],
)
def test_the_seal_refuses_an_unlinked_or_deleted_account(stores, owner, error):
    # Given a claimed snipe of an unlinked user, of a user being deleted, or of no profile
    if owner != "nobody":
        profile(stores, linked=owner != "unlinked")
    claimed = armed(stores, created(stores))
    if owner == "deleting":
        stores.users.mark_deleted(USER, NOW_MS)
    # When it is sealed
    with pytest.raises(error):
        stores.bids.seal(claimed, ARMED_BY, NOW_MS)
    # Then it was not
    assert not stores.bids.require(USER, claimed.bidId).sealed


def test_a_sealed_snipe_holds_off_its_owners_account_deletion_until_after_its_end(stores):
    # Given a sealed snipe
    profile(stores)
    sealed = stores.bids.seal(armed(stores, created(stores)), ARMED_BY, NOW_MS)
    # When the owner's account deletion begins before the auction's end
    with pytest.raises(SnipeSealedError):
        stores.users.mark_deleted(USER, sealed.end_ms)
    # Then it was refused; seconds after the end it goes
    assert stores.users.get_live(USER) is not None
    assert stores.users.mark_deleted(USER, sealed.end_ms + 6_000) == sealed.end_ms + 6_000
    with pytest.raises(AccountDeletedError):
        stores.users.get_live(USER)


def test_a_price_update_goes_in_until_the_freeze_and_never_onto_a_sealed_snipe(stores):
    # Given a linked user's snipe, claimed and then sealed by its run before the stored
    # freeze (eBay's clock ahead of ours)
    profile(stores)
    claimed = armed(stores, created(stores))
    now = claimed.freeze_at - 60
    # When the price updater writes a new price on the claimed copy / Then it goes in
    assert stores.updates.apply(claimed, {"currentPrice": 4200}, now)
    priced = stores.bids.require(USER, claimed.bidId)
    assert (priced.currentPrice, priced.version) == (4200, claimed.version + 1)
    # And once the snipe is sealed, a price update on the copy read since is not written
    sealed = stores.bids.seal(priced, ARMED_BY, NOW_MS)
    assert not stores.updates.apply(sealed, {"currentPrice": 4300}, now)
    assert stores.bids.require(USER, claimed.bidId) == sealed
    # Nor is one after the freeze on an unsealed snipe
    other = created(stores, new_snipe("b0002", "item-2"))
    assert not stores.updates.apply(other, {"currentPrice": 4300}, other.freeze_at)
    assert stores.bids.require(USER, other.bidId) == other


def test_replace_is_conditional_on_the_version_and_never_changes_activity(stores):
    # Given a snipe
    bid = created(stores)
    claimed = armed(stores, bid)
    # When a second claim is made on the copy read before the first
    with pytest.raises(ConflictError):
        stores.bids.replace(bid, bid.model_copy(update={"executionId": "x"}), [BidStatus.PENDING])
    # Then the first claim holds, and a replace that would end the snipe is not a replace
    assert stores.bids.require(USER, bid.bidId).executionId == ARMED_BY
    with pytest.raises(ValueError):
        stores.bids.replace(
            claimed, claimed.model_copy(update={"status": BidStatus.FAILED}), [BidStatus.ARMED]
        )


def test_query_pages_newest_first_and_filters_by_status(stores):
    # Given five snipes, two of them cancelled
    for n in range(1, 6):
        bid = created(stores, new_snipe(f"b000{n}", f"item-{n}"))
        if n in (2, 4):
            moved(stores, bid, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
    # When the active ones are read two at a time
    seen: list[str] = []
    start = None
    for _ in range(10):
        page, start = stores.bids.query(USER, [BidStatus.PENDING], 2, start)
        seen += [b.bidId for b in page]
        if not start:
            break
    # Then every active one came once, newest first
    assert seen == ["b0005", "b0003", "b0001"]
    assert [b.bidId for b in stores.bids.all_keys(USER)] == [f"b000{n}" for n in (5, 4, 3, 2, 1)]


def _every_page(read: Any, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    position = None
    for _ in range(20):
        page, position = read(limit, position)
        pages.append([b.bidId for b in page])
        if not position:
            return pages
    raise AssertionError("the pages did not end")


def test_the_listing_pages_newest_first_through_the_active_set_or_the_record(stores):
    # Given six snipes: two cancelled, one armed, three pending
    for n in range(1, 7):
        bid = created(stores, new_snipe(f"b000{n}", f"item-{n}"))
        if n in (2, 5):
            moved(stores, bid, BidStatus.CANCELLED, allowed=[BidStatus.PENDING])
        if n == 3:
            armed(stores, bid)
    active = [BidStatus.PENDING, BidStatus.ARMED, BidStatus.PLACED]
    # When the active ones are paged two at a time through the set
    pages = _every_page(lambda n, after: stores.bids.active_page(USER, active, n, after), 2)
    # Then every active one comes once, newest first, and none that ended
    assert [b for page in pages for b in page] == ["b0006", "b0004", "b0003", "b0001"]
    assert pages[0] == ["b0006", "b0004"]
    # and a filter inside the active statuses keeps to it
    only_armed = _every_page(
        lambda n, after: stores.bids.active_page(USER, [BidStatus.ARMED], n, after), 1
    )
    assert [b for page in only_armed for b in page] == ["b0003"]
    # When the record is paged for the cancelled and armed ones
    wanted = [BidStatus.CANCELLED, BidStatus.ARMED]
    record = _every_page(lambda n, start: stores.bids.list_page(USER, wanted, n, start), 2)
    # Then those come once each, newest first, two at most a page
    assert [b for page in record for b in page] == ["b0005", "b0003", "b0002"]
    assert all(len(page) <= 2 for page in record)


def test_deleting_a_users_snipes_frees_their_items_and_forgets_their_keys(stores):
    # Given a user's snipe, created with an idempotency key
    bid = created(stores, new_snipe(idempotencyKey="key-1"))
    # When their snipes are deleted
    deleted = stores.bids.delete_user_bids(USER)
    # Then it is gone with its key's record, and the item takes a new snipe
    assert [b.bidId for b in deleted] == [bid.bidId]
    assert stores.bids.get(USER, bid.bidId) is None
    assert stores.bids.keyed_create(USER, "key-1") is None
    again = new_snipe("b0009")
    stores.bids.create(again, entry(again, at=NOW_MS + 3))


@pytest.mark.usefixtures("clean_tables")
def test_a_create_keys_record_expires_a_day_after_the_create():
    # Given a snipe created with an idempotency key (DynamoDB's own TTL removes the record)
    stores = DynamoStores()
    bid = created(stores, new_snipe(idempotencyKey="key-1"))
    # Then its record names the owner and carries a ttl a day after the create
    item = stores.client.get_item(
        TableName=os.environ["USERS_TABLE"], Key={"userId": {"S": f"CREATEKEY#{USER}#key-1"}}
    )["Item"]
    assert item["ownerId"] == {"S": USER}
    assert int(item["ttl"]["N"]) == bid.createdAt // 1000 + 86_400


# ---------------------------------------------------------------------------------- slots


def test_a_group_takes_no_more_slots_than_its_limit_and_a_loss_gives_one_back(stores):
    # Given a group with a limit of two
    take = stores.slots.take
    # When three snipes take a slot, one of them twice
    results = [take(USER, "g", b, 2, contingency=False) for b in ("b1", "b2", "b2", "b3")]
    # Then two hold one (the repeat finds itself a holder), the third does not
    assert results == [True, True, True, False]
    assert stores.slots.read(USER, "g").held == 2
    # and a holder that lost gives its slot back, once (a second settle finds it settled)
    assert stores.slots.settle(USER, "g", "b1", won=False)
    assert stores.slots.settle(USER, "g", "b1", won=False)
    assert take(USER, "g", "b3", 2, contingency=False)
    ledger = stores.slots.read(USER, "g")
    assert (ledger.held, ledger.pending, ledger.lost) == (2, 2, 1)
    assert ledger.unsettled == {"b2", "b3"}


def test_a_win_keeps_its_slot_and_a_non_holder_settles_nothing(stores):
    # Given a group of limit one whose holder won
    assert stores.slots.take(USER, "g", "b1", 1, contingency=False)
    assert stores.slots.settle(USER, "g", "b1", won=True)
    # When another snipe tries for a slot, and a non-holder is settled
    # Then the group is full, and nothing is settled
    assert not stores.slots.take(USER, "g", "b2", 1, contingency=False)
    assert not stores.slots.settle(USER, "g", "b2", won=False)
    ledger = stores.slots.read(USER, "g")
    assert (ledger.held, ledger.pending, ledger.won) == (1, 0, 1)


def test_a_contingency_group_waits_for_a_pending_outcome_and_stops_at_a_loss(stores):
    # Given a contingency group with a holder whose outcome is pending
    assert stores.slots.take(USER, "c", "b1", 5, contingency=True)
    # When the next snipe takes a slot
    # Then it must wait; after a loss it never gets one
    assert not stores.slots.take(USER, "c", "b2", 5, contingency=True)
    assert stores.slots.settle(USER, "c", "b1", won=False)
    assert not stores.slots.take(USER, "c", "b2", 5, contingency=True)
    assert stores.slots.read_many(USER, ["c", "none"])["none"].holders == frozenset()


# ---------------------------------------------------------------------------------- users, groups


def test_a_profile_is_created_once_and_its_email_is_one_accounts(stores):
    # Given a profile
    user = profile(stores, linked=False)
    # When it is created again, and another account takes its email
    again = user.model_copy(update={"displayName": "twice"})
    other = UserEntity(userId="other", email=user.email.upper(), createdAt=1, updatedAt=1)
    # Then the first is refused quietly, the second loudly
    assert stores.users.create(again) is False
    with pytest.raises(ConflictError):
        stores.users.create(other)
    assert stores.users.get("other") is None


def test_a_profile_change_on_a_stale_copy_is_a_conflict_and_an_email_moves_its_guard(stores):
    # Given a profile changed since it was read
    read = profile(stores, linked=False)
    changed = stores.users.update_profile(read, "New name", "new@example.com", 10)
    # When the stale copy is changed
    with pytest.raises(ConflictError):
        stores.users.update_profile(read, "Other", None, 11)
    # Then the first change holds, and its old address is free for another account
    assert (changed.displayName, changed.email) == ("New name", "new@example.com")
    other = UserEntity(userId="other", email=read.email, createdAt=1, updatedAt=1)
    assert stores.users.create(other)


def test_a_tombstone_hides_the_profile_and_refuses_a_new_one(stores):
    # Given a deleted account's tombstone
    user = profile(stores, linked=False)
    deleted_at = stores.users.mark_deleted(USER, 5)
    assert stores.users.mark_deleted(USER, 9) == deleted_at
    stores.users.delete_keys(stores.users.deletion_keys(USER))
    stores.users.leave_tombstone(USER, deleted_at, 100)
    # When the profile is read and created again
    # Then there is none, and none is made
    assert stores.users.get(USER) is None
    assert stores.users.create(user) is False
    with pytest.raises(AccountDeletedError):
        stores.users.get_live(USER)


def test_group_rules_default_store_and_go_with_the_user(stores):
    # Given a stored rule and a default one
    rule = GroupRule(mode=GroupMode.CONTINGENCY, limit=3)
    stores.groups.put_rule(USER, "g1", rule, NOW_MS)
    # When they are read, and the user's groups are deleted
    assert stores.groups.rule(USER, "g1") == rule
    assert stores.groups.rule(USER, "g2") == GroupRule()
    stores.slots.take(USER, "g2", "b1", 1, contingency=False)
    deleted = stores.groups.delete_user_groups(USER, ["g2"])
    # Then both are gone
    assert deleted == 2
    assert stores.groups.rule(USER, "g1") == GroupRule()
    assert stores.slots.read(USER, "g2").holders == frozenset()


# ---------------------------------------------------------------------------------- eBay links


def new_link(account: str = "ebay-a", envelope: str = "env-1", at: int = NOW_MS) -> NewLink:
    return NewLink(
        account_id=account,
        envelope=envelope,
        linked_at=at,
        access_expires_at=END,
        refresh_expires_at=END + 86_400,
    )


def test_an_oauth_state_is_used_once_by_its_owner_before_it_expires(stores):
    # Given a state of the user, expiring at END, and one of an account being deleted
    profile(stores, linked=False)
    stores.links.put_state("s1", USER, END)
    profile(stores, "leaving", linked=False)
    stores.users.mark_deleted("leaving", NOW_MS)
    # When it is consumed by another user, expired, by its owner, and again
    # Then only its owner's first use in time takes it; the deleted account gets none
    assert not stores.links.consume_state("s1", "other", END - 1)
    assert not stores.links.consume_state("s1", USER, END)
    assert stores.links.consume_state("s1", USER, END - 1)
    assert not stores.links.consume_state("s1", USER, END - 1)
    with pytest.raises(AccountDeletedError):
        stores.links.put_state("s2", "leaving", END)


def test_an_ebay_account_links_to_one_user_and_a_relink_frees_the_old_one(stores):
    # Given a user linked to eBay account A
    profile(stores, linked=False)
    profile(stores, "other", linked=False)
    stores.links.link(USER, new_link("ebay-a"), None)
    # When another user links A, and the first relinks to B
    with pytest.raises(ConflictError):
        stores.links.link("other", new_link("ebay-a"), None)
    stores.links.link(USER, new_link("ebay-b", "env-2"), "ebay-a")
    # Then A was refused to the other user while held, and is theirs to link after the relink
    stores.links.link("other", new_link("ebay-a"), None)
    link = stores.links.get(USER)
    assert link is not None
    assert (link.account_id, link.envelope, link.refresh_expires_at) == (
        "ebay-b",
        "env-2",
        END + 86_400,
    )


def test_an_unlink_waits_for_a_sealed_bid_and_then_the_seal_is_refused(stores):
    # Given a linked user whose snipe is sealed
    profile(stores, linked=False)
    stores.links.link(USER, new_link("ebay-a"), None)
    sealed = stores.bids.seal(armed(stores, created(stores)), ARMED_BY, NOW_MS)
    # When they unlink before the auction's end
    with pytest.raises(SnipeSealedError):
        stores.links.unlink(USER, "ebay-a", sealed.end_ms)
    # Then the link holds; after the end it goes, once, and a new seal is refused as unlinked
    assert stores.links.get(USER) is not None
    assert stores.links.unlink(USER, "ebay-a", sealed.end_ms + 6_000)
    assert not stores.links.unlink(USER, "ebay-a", sealed.end_ms + 7_000)
    assert stores.links.get(USER) is None
    other = armed(stores, created(stores, new_snipe("b0002", "item-2")))
    with pytest.raises(EbayNotLinkedError):
        stores.bids.seal(other, ARMED_BY, NOW_MS)


def test_a_link_to_another_account_waits_for_a_sealed_bid(stores):
    # Given a user linked to eBay account A whose snipe is sealed (its bid goes from A)
    profile(stores, linked=False)
    stores.links.link(USER, new_link("ebay-a"), None)
    sealed = stores.bids.seal(armed(stores, created(stores)), ARMED_BY, NOW_MS)
    # When they link eBay account B before the auction's end
    with pytest.raises(SnipeSealedError):
        stores.links.link(USER, new_link("ebay-b", "env-b", sealed.end_ms), "ebay-a")
    # Then A stays linked, the account the sealed bid goes from; A linked again (fresh
    # tokens for the same account) goes in, and B after the end
    link = stores.links.get(USER)
    assert link is not None
    assert (link.account_id, link.envelope) == ("ebay-a", "env-1")
    stores.links.link(USER, new_link("ebay-a", "env-2", sealed.end_ms), "ebay-a")
    stores.links.link(USER, new_link("ebay-b", "env-b", sealed.end_ms + 6_000), "ebay-a")
    link = stores.links.get(USER)
    assert link is not None
    assert (link.account_id, link.envelope) == ("ebay-b", "env-b")


def test_refreshed_tokens_replace_only_the_envelope_they_were_refreshed_from(stores):
    # Given a linked user
    profile(stores, linked=False)
    stores.links.link(USER, new_link(envelope="env-1"), None)
    # When two refreshes of env-1 store their envelopes
    first = stores.links.replace_tokens(USER, "env-1", "env-2", END + 1, END + 2)
    second = stores.links.replace_tokens(USER, "env-1", "env-3", END + 3, END + 4)
    # Then the first wins and the second changes nothing
    assert (first, second) == (True, False)
    link = stores.links.get(USER)
    assert link is not None
    assert (link.envelope, link.access_expires_at) == ("env-2", END + 1)


def test_no_link_onto_a_deleted_account(stores):
    # Given an account being deleted
    profile(stores, linked=False)
    stores.users.mark_deleted(USER, NOW_MS)
    # When eBay is linked to it
    with pytest.raises(ConflictError):
        stores.links.link(USER, new_link(), None)
    # Then nothing was stored, the account guard included
    profile(stores, "other", linked=False)
    stores.links.link("other", new_link(), None)


# ---------------------------------------------------------------------------------- eBay deletions


def test_a_deletion_notice_is_matched_to_its_owner_and_remembered_once(stores):
    # Given a user linked to eBay account A
    profile(stores, linked=False)
    stores.links.link(USER, new_link("ebay-a"), None)
    # When a notice about A is begun twice (a concurrent delivery), then finished
    owner = stores.deletions.account_owner("ebay-a")
    first = stores.deletions.begin("n1", USER, END)
    second = stores.deletions.begin("n1", "someone-else", END)
    stores.deletions.finish("n1")
    # Then it names the owner, the second delivery finds the first's record, and it ends DONE
    assert owner == USER
    assert stores.deletions.account_owner("ebay-unknown") is None
    assert (first.state, first.owner_id) == (NoticeState.PROCESSING, USER)
    assert second == first
    done = stores.deletions.notice("n1")
    assert done is not None
    assert (done.state, done.owner_id) == (NoticeState.DONE, USER)
    assert stores.deletions.notice("n2") is None


def test_a_closed_ebay_accounts_link_goes_once_and_waits_for_a_sealed_bid(stores):
    # Given a linked user whose snipe is sealed
    profile(stores, linked=False)
    stores.links.link(USER, new_link("ebay-a"), None)
    sealed = stores.bids.seal(armed(stores, created(stores)), ARMED_BY, NOW_MS)
    # When eBay's notice removes the link before the auction's end, then after it, twice
    with pytest.raises(SnipeSealedError):
        stores.deletions.remove_link(USER, "ebay-a", sealed.end_ms)
    removed = stores.deletions.remove_link(USER, "ebay-a", sealed.end_ms + 6_000)
    again = stores.deletions.remove_link(USER, "ebay-a", sealed.end_ms + 7_000)
    # Then it went once, noted on the profile, its guard with it
    assert (removed, again) == (True, False)
    assert stores.links.get(USER) is None
    assert stores.users.require(USER).ebayDeletedAt == sealed.end_ms + 6_000
    assert stores.deletions.account_owner("ebay-a") is None


# ---------------------------------------------------------------------------------- connections


def socket(connection_id: str, user_id: str = USER, age_s: float = 0) -> ConnectionEntity:
    connected_at = int((time.time() - age_s) * 1000)
    return ConnectionEntity(
        connectionId=connection_id,
        userId=user_id,
        connectedAt=connected_at,
        ttl=connected_at // 1000 + 2 * 3600 + 900,
    )


def test_a_user_holds_no_more_sockets_than_the_cap_and_a_closed_one_frees_a_place(stores):
    # Given a user with two open sockets, at a cap of two
    for connection_id in ("c1", "c2"):
        stores.connections.put(
            socket(connection_id),
            users_and_app_state_table=stores.users_and_app_state_table,
            max_connections=2,
        )
    # When a third opens, and the first is opened again (a retried $connect)
    with pytest.raises(TooManyConnections):
        stores.connections.put(
            socket("c3"),
            users_and_app_state_table=stores.users_and_app_state_table,
            max_connections=2,
        )
    stores.connections.put(
        socket("c1"), users_and_app_state_table=stores.users_and_app_state_table, max_connections=2
    )
    # Then the third was refused; once the first closes it fits
    stores.connections.delete(USER, "c1")
    stores.connections.put(
        socket("c3"), users_and_app_state_table=stores.users_and_app_state_table, max_connections=2
    )
    assert stores.connections.connection_ids(USER) == ["c2", "c3"]
    assert stores.connections.connection_ids_by_user([USER, "nobody"]) == {
        USER: ["c2", "c3"],
        "nobody": [],
    }


def test_a_socket_api_gateway_must_have_closed_does_not_hold_a_place(stores):
    # Given a user at the cap with a socket opened three hours ago, whose $disconnect never came
    stores.connections.put(socket("old", age_s=3 * 3600), max_connections=2)
    stores.connections.put(socket("c2"), max_connections=2)
    # When another opens
    stores.connections.put(socket("c3"), max_connections=2)
    # Then the old one no longer counts
    assert stores.connections.connection_ids_by_user([USER])[USER] == ["c2", "c3"]


def test_no_socket_for_an_account_being_deleted_and_deletion_forgets_them_all(stores):
    # Given a user with two sockets, whose deletion then begins
    profile(stores, linked=False)
    for connection_id in ("c1", "c2"):
        stores.connections.put(
            socket(connection_id),
            users_and_app_state_table=stores.users_and_app_state_table,
            max_connections=10,
        )
    stores.users.mark_deleted(USER, NOW_MS)
    # When another opens, and the deletion forgets the user's sockets
    with pytest.raises(AccountDeletedError):
        stores.connections.put(
            socket("c3"),
            users_and_app_state_table=stores.users_and_app_state_table,
            max_connections=10,
        )
    forgotten = stores.connections.delete_user_connections(USER)
    # Then the new one was refused, and the two are gone
    assert forgotten == 2
    assert stores.connections.connection_ids(USER) == []
    assert stores.connections.connection_ids_by_user([USER]) == {USER: []}


# ------------------------------------------------ a write applied, then answered too late

# botocore sends a write again when its answer times out (common/aws.py); the repeat fails its
# own condition. These run on moto only: the in-memory stores have no wire to be late on.


@pytest.fixture(params=["tokens honoured", "tokens ignored"])
def late(request: pytest.FixtureRequest, clean_tables: Provisioned) -> Iterator[Any]:
    assert clean_tables
    stores = DynamoStores()
    stores.late = LateWrites(stores.client, honour_tokens=request.param == "tokens honoured")
    yield stores
    stores.late.close()


def test_botocore_resends_a_transaction_with_its_client_request_token():
    # Given a client whose first attempt at a transaction times out (never sent) and whose
    # retry pause is nil
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # never reached: every attempt is answered here
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=aws.CONFIG,
    )
    sent: list[dict[str, Any]] = []

    def time_out_once(request: Any, **_: Any) -> Any:
        sent.append(body_of(request))
        if len(sent) == 1:
            raise ReadTimeoutError(endpoint_url=request.url)
        return AWSResponse(request.url, 200, {}, _Raw(b"{}"))

    client.meta.events.register("before-send.dynamodb.TransactWriteItems", time_out_once)
    client.meta.events.register_first(
        "needs-retry.dynamodb.TransactWriteItems",
        lambda attempts, caught_exception=None, **_: (
            0 if attempts == 1 and isinstance(caught_exception, ReadTimeoutError) else None
        ),
    )
    # When the transaction is written
    client.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"k": {"S": "1"}},
                    "ConditionExpression": "attribute_exists(k)",
                }
            }
        ]
    )
    # Then botocore sent it twice with one token it filled in: DynamoDB's idempotency holds
    assert len(sent) == 2
    assert sent[0]["ClientRequestToken"]
    assert sent[0] == sent[1]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def test_a_claim_applied_then_answered_late_is_the_runs_claim(late):
    # Given a snipe, and a database that will answer the next write too late
    bid = created(late)
    late.late.arm()
    # When a run claims it (botocore sends the claim again; it fails its own condition)
    claimed = armed(late, bid)
    # Then the run knows it won: the stored snipe is its claim
    assert late.late.late == ["PutItem"]
    assert late.bids.require(USER, bid.bidId) == claimed
    assert claimed.executionId == ARMED_BY


def test_someone_elses_claim_on_the_same_version_is_still_a_conflict(late):
    # Given a snipe a first run claimed
    bid = created(late)
    armed(late, bid)
    late.late.arm()
    # When a second run claims the copy it read before, its answer late and sent again
    with pytest.raises(ConflictError):
        late.bids.replace(bid, bid.model_copy(update={"executionId": "x"}), [BidStatus.PENDING])
    # Then the first claim holds
    assert late.bids.require(USER, bid.bidId).executionId == ARMED_BY


def test_a_seal_applied_then_answered_late_is_sealed_and_may_bid(late):
    # Given a linked user's claimed snipe, and a database that answers the seal too late
    profile(late)
    claimed = armed(late, created(late))
    late.late.arm()
    # When the run seals it
    sealed = late.bids.seal(claimed, ARMED_BY, NOW_MS)
    # Then the seal is the run's: it returns, and the stored snipe is what it sealed
    assert late.late.late == ["TransactWriteItems"]
    assert late.bids.require(USER, claimed.bidId) == sealed
    assert sealed.sealedAt == NOW_MS


def test_a_seal_never_answered_is_retryable_and_the_same_seal_again_is_sealed(clean_tables):
    # Given a linked user's claimed snipe, and a database that applies the next write and
    # answers neither of botocore's attempts in time
    assert clean_tables
    stores = DynamoStores()
    # The executor's client: the product's timeouts and attempts (common/aws.py)
    client = boto3.client("dynamodb", config=aws.CONFIG)
    bids = BidsRepository(
        os.environ["BIDS_TABLE"],
        stores.users_and_app_state_table,
        os.environ["BID_HISTORY_TABLE"],
        client,
    )
    lost = LostAnswers(client)
    try:
        profile(stores)
        firing = armed(stores, created(stores)).model_copy(update={"countdownPhase": "FIRING"})
        lost.arm()
        # When the run seals it, then, told to try again, seals the copy in hand again
        with pytest.raises(RetryableError):
            bids.seal(firing, ARMED_BY, NOW_MS)
        again = bids.seal(firing, ARMED_BY, NOW_MS)
    finally:
        lost.close()
    # Then the first seal went in, and the repeat is told it is this run's: it may bid
    assert lost.lost == ["TransactWriteItems", "TransactWriteItems"]
    assert again == stores.bids.require(USER, firing.bidId)
    assert again.sealedAt == NOW_MS


def test_a_transition_and_a_creation_applied_then_answered_late_are_done(late):
    # Given a snipe created through a late answer
    late.late.arm()
    bid = created(late)
    # When its run records PLACED through a late answer too
    claimed = armed(late, bid)
    late.late.arm()
    placed = moved(late, claimed, BidStatus.PLACED, allowed=[BidStatus.ARMED])
    # Then both went in once: the record is PLACED, with one history entry per write
    assert late.bids.require(USER, bid.bidId) == placed
    assert late.late.late == ["TransactWriteItems", "TransactWriteItems"]
    entries, _ = late.history.for_bid(USER, bid.bidId, 10, None)
    assert [h.action for h in entries] == [HistoryAction.UPDATE, HistoryAction.CREATE]


def test_a_group_slot_taken_through_a_late_answer_is_held_once(late):
    # Given a win-one group, and a database that answers the next write too late
    late.late.arm()
    # When a snipe takes its slot
    took = late.slots.take(USER, "g", "b1", 1, contingency=False)
    # Then it holds the slot, counted once
    assert took
    assert late.slots.read(USER, "g").held == 1
    assert not late.slots.take(USER, "g", "b2", 1, contingency=False)


def test_a_notification_guard_claimed_and_finished_through_late_answers_is_this_senders(late):
    # Given a database that answers the next two writes too late
    guards = NotificationGuards(os.environ["USERS_TABLE"], late.client)
    late.late.arm(2)
    # When a sender claims a guard and records that its email went
    guard = guards.claim("notify#b1#WON", USER, NOW_MS)
    assert guard is not None
    guards.finish(guard, GuardStatus.SENT, message_id="m-1")
    # Then both were this sender's: the guard says sent, by it
    stored = guards.get("notify#b1#WON")
    assert stored is not None
    assert (stored.status, stored.message_id) == (GuardStatus.SENT, "m-1")
    assert late.late.late == ["PutItem", "UpdateItem"]


def test_a_settle_and_a_token_refresh_answered_late_are_their_writers(late):
    # Given a group slot held, a linked user, and a database answering each next write late
    assert late.slots.take(USER, "g", "b1", 1, contingency=False)
    profile(late, linked=False)
    late.links.link(USER, new_link(envelope="env-1"), None)
    late.late.arm(2)
    # When the holder's loss is settled, and env-1's refresh stored
    settled = late.slots.settle(USER, "g", "b1", won=False)
    refreshed = late.links.replace_tokens(USER, "env-1", "env-2", END + 1, END + 2)
    # Then each writer knows its write went in, once
    assert late.late.late == ["UpdateItem", "UpdateItem"]
    assert (settled, refreshed) == (True, True)
    ledger = late.slots.read(USER, "g")
    assert (ledger.held, ledger.pending, ledger.lost) == (0, 0, 1)
    link = late.links.get(USER)
    assert link is not None
    assert link.envelope == "env-2"
