"""Account deletion removes the user's snipe schedules (EventBridge Scheduler in moto)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import boto3

from common.scheduling import schedule_name
from tests.stack_env import get_settings


def _names(group: str) -> set[str]:
    client = boto3.client("scheduler")
    return {s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]}


def test_an_account_deleted_with_pending_snipes_leaves_no_schedule(rest_env, new_auction):
    from common.data.connections import ConnectionsRepository
    from common.data.history import HistoryRepository
    from common.data.users import UsersRepository
    from rest.logic.bids import NewSnipe, create_snipe
    from rest.logic.users import delete_account
    from tests import stack_env
    from tests.fakes import AccountParts, FakeIdentities, FakeSocketCloser, roomy_cap

    # Given two pending snipes, each with its schedule
    s = get_settings()
    sched = stack_env.snipe_scheduler()
    ids = []
    for _ in range(2):
        lot = new_auction(endsInSeconds=3600)
        bid, _ = create_snipe(
            "user-del",
            NewSnipe(lot["legacyItemId"], 5000, None, 6, None),
            SimpleNamespace(
                users=stack_env.users_repo(),
                bids=stack_env.bids_repo(),
                scheduler=sched,
                snipe_cap=roomy_cap(),
            ),
            stack_env.ebay_client(),
            time.time,
            30,
        )
        ids.append(bid.bidId)
    assert {schedule_name(i) for i in ids} <= _names(s.schedule_group_name)
    # When the account is deleted
    delete_account(
        "user-del",
        AccountParts(
            users=UsersRepository(s.users_and_app_state_table),
            bids=stack_env.bids_repo(),
            history=HistoryRepository(s.bid_history_table),
            connections=ConnectionsRepository(s.connections_table),
            groups=stack_env.groups_repo(),
            scheduler=sched,
            socket_closer=FakeSocketCloser(),
            identities=FakeIdentities(),
        ),
    )
    # Then no schedule of theirs is left
    assert not {schedule_name(i) for i in ids} & _names(s.schedule_group_name)
