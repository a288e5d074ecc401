"""``from_item`` for the broadcaster's hot path: the same Python values as
``common.data.dynamo.from_item`` (property-tested in tests/unit/test_dynamo_json.py), at a
fraction of its cost.

The broadcaster reads two images (old and new) of every stream record; boto3's
``TypeDeserializer`` (one method lookup, a ``Decimal`` and a conversion per attribute) was a
quarter of its CPU for one-record batches (cProfile). Here an attribute is one dict lookup on
its type tag; integers skip ``Decimal`` (for the numbers DynamoDB holds, up to 38 digits, the
values are the same). Binary values, which the Bids table does not hold, go through
``from_item`` itself.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

from common.data.dynamo import from_item as _from_item


def from_image(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in item.items()}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = DYNAMODB_CONTEXT.create_decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def _value(value: dict[str, Any]) -> Any:
    ((tag, data),) = value.items()
    if tag == "S":
        return data
    if tag == "N":
        return _number(data)
    if tag == "BOOL":
        return data
    if tag == "NULL":
        return None
    if tag == "M":
        return {name: _value(v) for name, v in data.items()}
    if tag == "L":
        return [_value(v) for v in data]
    if tag == "SS":
        return set(data)
    if tag == "NS":
        return {_number(n) for n in data}
    return _from_item({"value": value})["value"]  # B, BS
