"""HTTP API: /groups (snipe groups' rules and totals).

The routes run in the bids function (``rest.bids`` includes this router): they read the same
snipes and write only the group's item in the Users table, so a function of their own would add
a cold start, a log group and two alarms for two light routes.
"""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from common.data.groups import GroupRule
from common.observability import logger
from rest.app import caller, documented
from rest.composition import bids_ports
from rest.logic import groups as logic
from rest.schemas.groups import (
    CurrencyTotalOut,
    GroupIdParam,
    GroupListOut,
    GroupOut,
    GroupRuleRequest,
)

router = APIGatewayHttpRouter()


@router.get("/groups", tags=["groups"], responses=documented())
def list_groups() -> GroupListOut:
    who = caller(router)
    p = bids_ports()
    found = logic.list_groups(who.user_id, p.groups, p.bids, p.group_slots)
    return GroupListOut(items=[group_out(group) for group in found])


@router.put("/groups/<groupId>", tags=["groups"], responses=documented())
def put_group(groupId: Annotated[GroupIdParam, Path()], body: GroupRuleRequest) -> GroupOut:
    who = caller(router)
    p = bids_ports()
    group = logic.set_rule(
        who.user_id,
        groupId,
        GroupRule(mode=body.mode, limit=body.limit),
        p.groups,
        p.bids,
        p.group_slots,
        time.time,
    )
    logger.info("group rule set", mode=group.rule.mode.value, limit=group.rule.limit)
    return group_out(group)


def group_out(group: logic.GroupSummary) -> GroupOut:
    totals = [
        CurrencyTotalOut(
            currency=t.currency, totalCurrentPrice=t.current_price, totalMaxBid=t.max_bid
        )
        for t in group.totals
    ]
    if len(totals) == 1:
        price, maximum, currency = (
            totals[0].totalCurrentPrice,
            totals[0].totalMaxBid,
            totals[0].currency,
        )
    elif totals:
        price, maximum, currency = None, None, None
    else:
        price, maximum, currency = 0, 0, None
    return GroupOut(
        groupId=group.group_id,
        mode=group.rule.mode,
        limit=group.rule.limit,
        defaultRule=group.stored is None,
        ruleUpdatedAt=group.stored.updatedAt if group.stored else None,
        snipes=group.snipes,
        active=group.active,
        won=group.won,
        totalCurrentPrice=price,
        totalMaxBid=maximum,
        currency=currency,
        totalsByCurrency=totals,
    )
