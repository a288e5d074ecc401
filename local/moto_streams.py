"""DynamoDB Streams' GetRecords in moto, answered at the cost of a json.dumps.

moto serialises every response by walking the operation's output shape value by value
(``moto/core/serialize.py``). A GetRecords page is up to 1,000 records, each with a new and an
old image of every attribute, and that walk cost about 1.7 ms of CPU per record: 80 % of moto's
CPU in the fan-out benchmark (bench/fanout.py, py-spy), more than the broadcaster spent
posting the record's messages. moto keeps the records in the wire format already (DynamoDB
JSON, binary values base64-encoded); only the creation time is a ``datetime``, which the wire
carries as epoch seconds with milliseconds.

``install()`` makes moto's GetRecords handler dump the page as it is. The JSON a client
receives is the one moto's serializer writes, up to the order of object keys (tested in
tests/integration/realtime/test_moto_streams.py); errors (an expired or unknown iterator) still
take moto's own path.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from typing import Any

_installed = threading.Lock()


def install() -> None:
    """Patch moto's GetRecords handler once per process (idempotent, thread-safe)."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    with _installed:
        if getattr(DynamoDBStreamsHandler.get_records, "dumps_records", False):
            return

        def get_records(self: DynamoDBStreamsHandler) -> tuple[str, dict[str, str]]:
            limit = self._get_param("Limit")
            page = self.backend.get_records(self._get_param("ShardIterator"), limit or 1000)
            return dumps_page(page), {"Content-Type": "application/x-amz-json-1.0"}

        get_records.dumps_records = True  # type: ignore[attr-defined]
        DynamoDBStreamsHandler.get_records = get_records  # type: ignore[assignment,method-assign]


def dumps_page(page: dict[str, Any]) -> str:
    """A GetRecords result of moto's backend as the body moto's serializer would write."""
    return json.dumps(page, default=_wire, separators=(", ", ": "))


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):  # as moto's serializer writes it: truncated to the ms
        from moto.core.serialize import TimestampSerializer

        return TimestampSerializer._timestamp_unixtimestamp(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not in a GetRecords page")
