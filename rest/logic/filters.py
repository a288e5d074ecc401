"""Comma-separated enum filters in query strings (`?status=PENDING,ARMED`)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from common.errors import FieldIssue, ValidationFailed

E = TypeVar("E", bound=StrEnum)


def parse_enum_list(raw: str | None, kind: type[E], field: str) -> list[E] | None:
    """None for no filter; a 422 naming ``field`` and the allowed values for an unknown one."""
    if not raw:
        return None
    try:
        return [kind(part.strip().upper()) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationFailed(
            f"Unknown {field}", [FieldIssue(field, f"must be among {allowed}")]
        ) from exc
