"""common.data.dynamo_json.from_image reads DynamoDB JSON as common.data.dynamo.from_item does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from common.data.dynamo import from_item
from common.data.dynamo_json import from_image

names = st.text(min_size=1, max_size=8)
numbers = st.one_of(
    # What DynamoDB holds: up to 38 significant digits
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(min_value=-(10**20), max_value=10**20, places=4).map(str),
    st.sampled_from(["0", "-0", "1.50", "1e3", "1E-2", "0.000", "1700000000000"]),
)
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=10)),
    st.builds(lambda n: {"N": n}, numbers),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(max_size=5), min_size=1, max_size=4)),
    st.builds(lambda s: {"NS": s}, st.lists(numbers, min_size=1, max_size=4, unique=True)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
        st.builds(lambda items: {"M": items}, st.dictionaries(names, inner, max_size=4)),
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True would hide a change)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, set):
        return a == b and {type(x) for x in a} == {type(y) for y in b}
    return bool(a == b)


@given(st.dictionaries(names, values, max_size=6))
def test_every_image_reads_as_from_item_reads_it(item: dict[str, Any]) -> None:
    # Given any item in DynamoDB JSON (every type, nested)
    # Then the fast reading gives the very values from_item gives
    assert _same(from_image(item), from_item(item))


def test_numbers_become_int_or_float_as_from_item_makes_them() -> None:
    item = {"a": {"N": "1700000000000"}, "b": {"N": "1.50"}, "c": {"N": "1e3"}, "d": {"N": "2.0"}}
    assert from_image(item) == {"a": 1700000000000, "b": 1.5, "c": 1000, "d": 2}
    assert [type(v) for v in from_image(item).values()] == [int, float, int, int]
    assert Decimal("2.0") == 2
