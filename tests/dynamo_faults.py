"""A DynamoDB write that is applied and then answered too late, as botocore lives it.

The clients give up on an answer after 1 s and send the call once more (common/aws.py): the
same request, so a TransactWriteItems carries the same ClientRequestToken. ``LateWrites`` makes
that happen to the next writes of one client, against moto's server: it sends the request
(DynamoDB applies it), drops the answer, and sends the same request again, whose answer is
what the caller gets. A repeated token is answered as DynamoDB answers it, with the first
attempt's outcome (moto ignores the token; DynamoDB's documented idempotency for TransactWriteItems
is what is emulated). No sleep and no botocore retry quota: the retry is done here, on the bytes
botocore would resend.

docs/sniping-engine.md, "A write that timed out", says how each writer settles it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError

from common.data.dynamo import unwrapped

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})


def operation_of(request: AWSPreparedRequest) -> str:
    """``PutItem`` of a request whose target is ``DynamoDB_20120810.PutItem``."""
    target = request.headers.get("X-Amz-Target", b"")
    text = target.decode() if isinstance(target, bytes) else str(target)
    return text.rsplit(".", 1)[-1]


def body_of(request: AWSPreparedRequest) -> dict[str, Any]:
    body = request.body or b"{}"
    return dict(json.loads(body.decode() if isinstance(body, bytes) else str(body)))


class LateWrites:
    """``arm(n)``: the next ``n`` writes of ``client`` are applied, answered too late and sent
    again (with ``only``, the next ``n`` whose request contains that text). ``late`` lists the
    operations it did that to, ``retried_tokens`` the tokens of the transactions whose repeat
    was answered with the first attempt's outcome. With ``honour_tokens=False`` a repeated
    transaction is sent again as moto takes it (the token ignored), which is what the local
    stack does: the item check alone must settle it."""

    def __init__(self, client: Any, *, honour_tokens: bool = True) -> None:
        self.client = unwrapped(client)  # a repository's client: botocore's own behind it
        self.honour_tokens = honour_tokens
        self.armed = 0
        self.only: str | None = None
        self.late: list[str] = []
        self.retried_tokens: list[str] = []
        self._id = f"late-writes-{uuid.uuid4().hex}"
        client.meta.events.register("before-send.dynamodb", self._before_send, unique_id=self._id)

    def arm(self, writes: int = 1, only: str | None = None) -> None:
        self.armed += writes
        self.only = only

    def close(self) -> None:
        self.client.meta.events.unregister("before-send.dynamodb", unique_id=self._id)

    def _send(self, request: AWSPreparedRequest) -> AWSResponse:
        response: AWSResponse = self.client._endpoint.http_session.send(request)
        _ = response.content  # read it now: it may be answered twice
        return response

    def _before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        operation = operation_of(request)
        if self.armed <= 0 or operation not in WRITES:
            return None
        if self.only is not None and self.only not in json.dumps(body_of(request)):
            return None
        self.armed -= 1
        self.late.append(operation)
        first = self._send(request)  # applied; its answer never reaches the caller
        token = body_of(request).get("ClientRequestToken")
        if (
            self.honour_tokens
            and operation == "TransactWriteItems"
            and token
            and first.status_code == 200
        ):
            # DynamoDB answers a token it has committed with that commit's success.
            self.retried_tokens.append(str(token))
            return first
        return self._send(request)


class LostAnswers:
    """``arm(n)``: the next ``n`` writes of ``client`` are applied and never answered: each of
    botocore's attempts is sent (the first applies it, the repeat fails its own condition) and
    its answer dropped (``ReadTimeoutError``), so the caller gets the data layer's
    ``RetryableError`` with the write in the table. No sleep: botocore's pause before its
    repeat is nil here, the read timeout is not waited out. With ``only``, the next ``n``
    whose request contains that text (a client other writers share, as the local stack's)."""

    def __init__(self, client: Any) -> None:
        self.client = unwrapped(client)  # a repository's client: botocore's own behind it
        self.lost: list[str] = []
        self._attempts = int(self.client.meta.config.retries.get("total_max_attempts", 1))
        self._left = 0  # attempts of armed writes still to lose
        self._only: str | None = None
        self._id = f"lost-answers-{uuid.uuid4().hex}"
        events = self.client.meta.events
        events.register("before-send.dynamodb", self._before_send, unique_id=self._id)
        events.register_first("needs-retry.dynamodb", self._no_pause, unique_id=self._id)

    def arm(self, writes: int = 1, only: str | None = None) -> None:
        self._left += writes * self._attempts
        self._only = only

    def close(self) -> None:
        self.client.meta.events.unregister("before-send.dynamodb", unique_id=self._id)
        self.client.meta.events.unregister("needs-retry.dynamodb", unique_id=self._id)

    def _before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        operation = operation_of(request)
        if self._left <= 0 or operation not in WRITES:
            return None
        if self._only is not None and self._only not in json.dumps(body_of(request)):
            return None
        self._left -= 1
        self.lost.append(operation)
        _ = self.client._endpoint.http_session.send(request).content  # applied, never heard
        raise ReadTimeoutError(endpoint_url=request.url)

    def _no_pause(self, attempts: int, caught_exception: Any = None, **_: Any) -> int | None:
        if self._left > 0 and isinstance(caught_exception, ReadTimeoutError):
            return 0 if attempts < self._attempts else None
        return None
