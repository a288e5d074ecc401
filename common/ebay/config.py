"""Configuration of the eBay client: plain values a caller (``common.settings``) builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/identity/v1/oauth2/token"

APP_SCOPE = "https://api.ebay.com/oauth/api_scope"
BID_SCOPE = "https://api.ebay.com/oauth/api_scope/buy.offer.auction"
IDENTITY_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
# Browse getItems, a Limited Release method: the only scope its security names.
BULK_ITEMS_SCOPE = "https://api.ebay.com/oauth/api_scope/buy.item.bulk"
# What a user grants when linking an account: bidding, reading their identity, and the basic
# scope the Trading API (watch list) accepts.
DEFAULT_USER_SCOPES: tuple[str, ...] = (APP_SCOPE, BID_SCOPE, IDENTITY_SCOPE)


class EbayEnvironment(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"
    LOCAL = "local"


_HOSTS: dict[EbayEnvironment, tuple[str, str, str]] = {
    # (api, auth, identity): the Commerce Identity API lives on the apiz host.
    EbayEnvironment.PRODUCTION: (
        "https://api.ebay.com",
        "https://auth.ebay.com",
        "https://apiz.ebay.com",
    ),
    EbayEnvironment.SANDBOX: (
        "https://api.sandbox.ebay.com",
        "https://auth.sandbox.ebay.com",
        "https://apiz.sandbox.ebay.com",
    ),
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` is the default per call; calls may pass their own."""

    connect: float = 2.0
    read: float = 5.0
    write: float = 5.0
    pool: float = 2.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter exponential backoff: the n-th wait is uniform in [0, min(cap, base * 2**n)]."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 4.0
    # A Retry-After longer than this is not waited for (a daily limit resets in hours).
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")


def _strip(url: str, suffix: str = "") -> str:
    url = url.rstrip("/")
    if suffix and url.endswith(suffix):
        url = url[: -len(suffix)]
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class EbayConfig:
    """Where eBay is and how to talk to it.

    Build it with :meth:`for_environment`; ``api_base_url``/``auth_base_url`` override the
    environment's hosts (required for ``local``, where the simulator serves everything).
    """

    environment: EbayEnvironment
    api_base_url: str
    auth_base_url: str
    identity_base_url: str
    marketplace_id: str = "EBAY_US"
    app_secret_name: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Refresh the cached application token this long before eBay says it expires.
    app_token_refresh_margin: float = 300.0
    trading_compatibility_level: str = "1193"
    trading_site_id: str = "0"

    @classmethod
    def for_environment(
        cls,
        environment: EbayEnvironment | str,
        *,
        api_base_url: str | None = None,
        auth_base_url: str | None = None,
        identity_base_url: str | None = None,
        marketplace_id: str = "EBAY_US",
        app_secret_name: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> EbayConfig:
        env = EbayEnvironment(environment)
        if env is EbayEnvironment.LOCAL:
            if not api_base_url:
                raise ValueError("the local eBay environment needs api_base_url")
            default_api = api_base_url
            default_auth = auth_base_url or api_base_url
            default_identity = api_base_url
        else:
            default_api, default_auth, default_identity = _HOSTS[env]
        api = _strip(api_base_url or default_api)
        return cls(
            environment=env,
            api_base_url=api,
            # EBAY_AUTH_URL may be given as the host or as the full authorize endpoint.
            auth_base_url=_strip(auth_base_url or default_auth, AUTHORIZE_PATH),
            identity_base_url=_strip(
                identity_base_url or (api if api_base_url else default_identity)
            ),
            marketplace_id=marketplace_id,
            app_secret_name=app_secret_name,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
        )

    @property
    def authorize_url(self) -> str:
        return self.auth_base_url + AUTHORIZE_PATH

    @property
    def token_url(self) -> str:
        return self.api_base_url + TOKEN_PATH

    @property
    def trading_url(self) -> str:
        return self.api_base_url + "/ws/api.dll"
