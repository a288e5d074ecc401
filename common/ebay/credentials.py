"""The eBay application's keys, from an SSM SecureString parameter."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from common import aws


class AppCredentials(BaseModel):
    """The keyset of the eBay developer application and its RuName (the OAuth redirect_uri)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    client_id: str = Field(alias="clientId", min_length=1)
    client_secret: SecretStr = Field(alias="clientSecret")
    ru_name: str = Field(alias="ruName", min_length=1)


def load_app_credentials(
    secret_name: str, *, max_age: int = 300, provider: parameters.SSMProvider | None = None
) -> AppCredentials:
    """Read ``{"clientId", "clientSecret", "ruName"}`` from the parameter.

    Powertools caches the value for ``max_age`` seconds, so a rotated secret is picked up
    within five minutes without a call per request.
    """
    raw: Any
    if provider is None:
        raw = aws.get_secret(secret_name, transform="json", max_age=max_age)
    else:
        raw = provider.get(secret_name, transform="json", max_age=max_age, decrypt=True)
    return AppCredentials.model_validate(raw)


def secret_credentials(
    secret_name: str, *, max_age: int = 300, provider: parameters.SSMProvider | None = None
) -> Callable[[], AppCredentials]:
    """A provider for :class:`~common.ebay.oauth.OAuthApi` that reads the parameter lazily."""
    return functools.partial(load_app_credentials, secret_name, max_age=max_age, provider=provider)
