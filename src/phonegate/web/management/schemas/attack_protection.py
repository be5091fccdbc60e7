"""phonegate's abuse limits for phone messages (``web/management/attack_protection.py``,
``domain/ratelimits.py``): GET shows every limit, defaults included; PATCH sets those named."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, create_model

from phonegate.domain.ratelimits import BOUNDS
from phonegate.web.management.schemas.common import Strict, omitted

CountryCodes = list[Annotated[str, Field(description="ISO 3166-1 alpha-2.")]]


class CountryRule(Strict):
    """An allow list or a deny list (an empty list: no rule)."""

    allow: CountryCodes
    deny: CountryCodes


class CountryRules(Strict):
    sms: CountryRule
    voice: CountryRule


class PhoneLimits(Strict):
    user_messages_per_hour: int
    user_voice_per_hour_when_drained: int
    wrong_codes: int
    wrong_code_refill_seconds: int
    ip_sends_per_minute: int
    ip_block_seconds: int
    ip_passwordless_per_hour: int
    number_messages_per_hour: int
    prefix_messages_per_hour: int
    tenant_daily_budget: int
    tenant_budget_warning_percent: int
    refuse_premium_numbers: bool
    countries: CountryRules


class CountryRuleChange(Strict):
    """Not both lists non-empty."""

    allow: CountryCodes = omitted()
    deny: CountryCodes = omitted()


class CountryRulesChange(Strict):
    sms: CountryRuleChange = omitted()
    voice: CountryRuleChange = omitted()


def _bounded(low: int, high: int) -> Any:
    return (int, omitted(ge=low, le=high))


# The integer limits and their bounds come from the domain's table, so they cannot drift.
PhoneLimitsChange = create_model(
    "PhoneLimitsChange",
    __base__=Strict,
    refuse_premium_numbers=(bool, omitted()),
    countries=(CountryRulesChange, omitted()),
    **{name: _bounded(low, high) for name, (low, high) in BOUNDS.items()},
)
