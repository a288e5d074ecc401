from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from common.data.dynamo import ConditionalWrite, cancelled_by, in_filter, raise_if_cancelled_by
from common.errors import ConflictError, RetryableError


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "PutItem")


def test_a_conditional_write_that_went_through_happened() -> None:
    with ConditionalWrite() as write:
        pass
    assert write.happened is True


def test_a_conditional_write_whose_condition_failed_did_not_happen() -> None:
    # When the write's condition fails
    failure = _error("ConditionalCheckFailedException")
    with ConditionalWrite() as write:
        raise failure
    # Then nothing is raised, it did not happen, and the failure is kept for a caller's error
    assert write.happened is False
    assert write.failure is failure


def test_a_throttled_conditional_write_is_retryable_and_other_errors_pass_through() -> None:
    with pytest.raises(RetryableError), ConditionalWrite():
        raise _error("ThrottlingException")
    with pytest.raises(ClientError), ConditionalWrite():
        raise _error("ValidationException")
    with pytest.raises(KeyError), ConditionalWrite():
        raise KeyError("not DynamoDB's")


def test_an_in_filter_names_each_value_in_order() -> None:
    # When a filter on two statuses is built
    expression, values = in_filter("#st", ["PENDING", "ARMED"], "s")
    # Then it names a placeholder per value, in the order given
    assert expression == "#st IN (:s0, :s1)"
    assert values == {":s0": {"S": "PENDING"}, ":s1": {"S": "ARMED"}}


def _cancelled(*codes: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "no"},
        "CancellationReasons": [{"Code": code} for code in codes],
    }
    return ClientError(response, "TransactWriteItems")


def test_a_transaction_cancelled_by_the_named_items_condition_is_that_conflict() -> None:
    # Given a transaction its second item's condition cancelled
    exc = _cancelled("None", "ConditionalCheckFailed")
    conflict = ConflictError("taken")
    # Then naming that item raises the conflict, caused by the cancellation
    with pytest.raises(ConflictError) as raised:
        raise_if_cancelled_by(exc, 1, conflict)
    assert raised.value is conflict
    assert raised.value.__cause__ is exc
    # and naming another item leaves the cancellation to the caller
    raise_if_cancelled_by(exc, 0, conflict)
    raise_if_cancelled_by(exc, 2, conflict)


def test_a_transaction_is_cancelled_by_an_item_only_where_its_condition_failed() -> None:
    # Given a transaction its second item's condition cancelled (the first was fine)
    exc = _cancelled("None", "ConditionalCheckFailed")
    # Then it was cancelled by the second item, by some item, and not by the first or a third
    assert cancelled_by(exc, 1) is True
    assert cancelled_by(exc) is True
    assert cancelled_by(exc, 0) is False
    assert cancelled_by(exc, 2) is False
    # and a cancellation for another reason (a conflicting transaction) is by no condition
    assert cancelled_by(_cancelled("TransactionConflict", "None")) is False
