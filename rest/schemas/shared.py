"""What the API's request and response models share: the strict base of every request, paging
(limit, signed cursor), a snipe's id in a path, and the list-of-values filter's pattern."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Limit = Annotated[int, Field(ge=1, le=100)]
# common.data.cursor's shape: base64url of the position, a dot, base64url of 18 signature bytes.
# Only this function can tell whether one is signed and still valid (400 when not).
Cursor = Annotated[
    str, Field(min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{24}$")
]


def enum_list_pattern(kind: type[StrEnum]) -> str:
    """A comma-separated list of ``kind``'s values, as rest.logic.filters reads it."""
    one = "|".join(member.value for member in kind)
    return rf"^({one})(,({one}))*$"


# Ids are 23 characters (common.clock.new_id); anything far longer is refused before it becomes
# a DynamoDB sort key, which DynamoDB itself refuses over 1,024 bytes (a 500, not a 404).
BidIdParam = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
