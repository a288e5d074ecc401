"""Domain errors. They say what went wrong; `rest/app.py` alone decides the HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.models import KeyedCreate


@dataclass(frozen=True)
class FieldIssue:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class DomainError(Exception):
    message: str
    details: list[FieldIssue] = field(default_factory=list)
    code: str = "ERROR"

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class NotFoundError(DomainError):
    code: str = "NOT_FOUND"


@dataclass
class ConflictError(DomainError):
    code: str = "CONFLICT"


@dataclass
class ActiveSnipeExists(ConflictError):
    """The user's one active snipe on the item (its guard) is another snipe."""


@dataclass
class IdempotencyKeyTaken(ConflictError):
    """A create whose Idempotency-Key made a snipe already: ``made``, that create's record as
    the failed condition saw it (``common.models.KeyedCreate``)."""

    made: KeyedCreate | None = None


@dataclass
class IdempotencyKeyReused(ConflictError):
    """An Idempotency-Key sent again with a request that differs from the one it created."""

    code: str = "IDEMPOTENCY_KEY_REUSED"


@dataclass
class SnipeSealedError(ConflictError):
    """The executor has sealed the snipe: its bid is being placed with what was sealed, and
    nothing about it may change any more (docs/sniping-engine.md, "One seal")."""

    code: str = "SNIPE_SEALED"


@dataclass
class BadRequestError(DomainError):
    """The request is well-formed JSON but cannot be acted on (a stale cursor, a used state)."""

    code: str = "BAD_REQUEST"


@dataclass
class ValidationFailed(DomainError):
    code: str = "VALIDATION_ERROR"


@dataclass
class UnauthorizedError(DomainError):
    code: str = "UNAUTHORIZED"


@dataclass
class AccountDeletedError(UnauthorizedError):
    """The token is still within its validity, but its account was deleted (or is being
    deleted): API Gateway's JWT authorizer cannot know, so the API refuses it itself."""

    code: str = "ACCOUNT_DELETED"


@dataclass
class EbayNotLinkedError(DomainError):
    code: str = "EBAY_NOT_LINKED"


@dataclass
class UpstreamRateLimited(DomainError):
    code: str = "EBAY_RATE_LIMITED"


@dataclass
class UpstreamUnavailable(DomainError):
    code: str = "EBAY_UNAVAILABLE"


@dataclass
class RateLimited(DomainError):
    """An allowance is used up: a per-user cap or a share of the app's daily eBay calls.
    ``retry_after``: seconds until trying again makes sense (the API's Retry-After)."""

    code: str = "RATE_LIMITED"
    retry_after: int = 60


@dataclass
class BrowseShareExhausted(RateLimited):
    """Today's share of eBay Browse calls for this kind of look-up (or this user's part of it)
    is spent (common/data/budget.py); the details name the share."""

    code: str = "EBAY_SHARE_EXHAUSTED"


@dataclass
class TooManyActiveSnipes(RateLimited):
    code: str = "TOO_MANY_ACTIVE_SNIPES"


@dataclass
class TooManyConnections(RateLimited):
    code: str = "TOO_MANY_CONNECTIONS"


@dataclass
class NoticeRejected(DomainError):
    """A notification that does not prove it came from eBay (its signature, its key, its age):
    eBay's SDKs answer such a notice 412 Precondition Failed."""

    code: str = "NOTICE_REJECTED"


@dataclass
class RetryableError(DomainError):
    """Throttling or a passing fault of AWS; the caller may try again."""

    code: str = "RETRYABLE"


@dataclass
class PushRejected(DomainError):
    """API Gateway refused a post to a WebSocket for a reason retrying alone cannot fix (a 4xx
    other than 410 and 429: a refused signature, a payload over 128 KB)."""

    code: str = "PUSH_REJECTED"
