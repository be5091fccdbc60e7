"""Which providers carry a tenant's message, in order: the delivery chain.

The primary provider follows Auth0's precedence. When the tenant has a phone provider
(Branding, the Unified Phone Experience) it serves every phone message; disabled, it stops
them all, loudly — the plan then has a problem instead of steps, and nothing silently takes
over. Without one, the Guardian factor's selected provider serves (``auth0``, ``sandbox``,
``twilio`` or ``phone-message-hook``, the operator's action). phonegate's fallback providers
follow in their order; Auth0 has none. Steps that cannot carry the message's channel are left
out.
"""

from __future__ import annotations

from dataclasses import dataclass

from phonegate.domain.models import Action, Channel, PhoneProvider, Tenant
from phonegate.domain.phone_providers import DELIVERY_METHODS, spec_for
from phonegate.domain.ports import ProviderCatalog, UnitOfWork

TRIGGER_SEND_PHONE_MESSAGE = "send-phone-message"
TRIGGER_CUSTOM_PHONE_PROVIDER = "custom-phone-provider"


@dataclass(frozen=True, slots=True)
class Step:
    label: str  # how events and the API name this step
    kind: str  # a registry kind, or a built-in name
    channels: frozenset[str]
    row: PhoneProvider | None = None
    action: Action | None = None

    @property
    def builtin(self) -> bool:
        return self.row is None and self.action is None

    @property
    def hosted(self) -> bool:
        """The vendor makes and checks the code; phonegate stores none."""
        return self.row is not None and spec_for(self.row, {}).hosted


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    # Why nothing can carry the message (an operator must act), when there are no steps.
    problem: str | None = None
    # Why the primary provider was left out although fallbacks may carry the message.
    skipped: str | None = None
    # The primary provider's name, usable or not (what a failure is recorded against).
    primary: str | None = None


async def bound_action(uow: UnitOfWork, tenant: Tenant, trigger: str) -> Action | None:
    action_id = tenant.settings.action_bindings.get(trigger)
    if not action_id:
        return None
    action = await uow.actions.get(tenant.id, action_id)
    return action if action is not None and action.deployed else None


def _row_channels(row: PhoneProvider) -> frozenset[str]:
    # Channels depend on non-secret configuration only, so no credentials are opened here.
    return spec_for(row, {}).channels


def _primary_name(tenant: Tenant, rows: list[PhoneProvider]) -> str:
    branding = next((r for r in rows if r.role == "branding"), None)
    if branding is not None:
        return f"{branding.name} (tenant phone provider)"
    return tenant.settings.selected_provider


async def _primary(
    uow: UnitOfWork, catalog: ProviderCatalog, tenant: Tenant, rows: list[PhoneProvider]
) -> Step | str:
    branding = next((r for r in rows if r.role == "branding"), None)
    if branding is not None:
        if branding.disabled:
            return (
                "the tenant phone provider (Branding > Phone Provider) is disabled, so no phone "
                "message can be sent: enable it, or delete it to use the Guardian provider"
            )
        methods = branding.configuration.get("delivery_methods", ["text"])
        if branding.name == "custom":
            action = await bound_action(uow, tenant, TRIGGER_CUSTOM_PHONE_PROVIDER)
            if action is None:
                return (
                    "the tenant phone provider is 'custom' but no deployed action is bound to "
                    "the custom-phone-provider trigger"
                )
            offered = frozenset(DELIVERY_METHODS[m] for m in methods if m in DELIVERY_METHODS)
            return Step("custom (tenant phone provider)", "action", offered, action=action)
        return Step(
            f"{branding.name} (tenant phone provider)",
            spec_for(branding, {}).kind,
            _row_channels(branding),
            row=branding,
        )
    selected = tenant.settings.selected_provider
    if selected == "twilio":
        row = next((r for r in rows if r.role == "guardian"), None)
        if row is None:
            return (
                "twilio is the selected provider but is not configured: set it with PUT "
                "/api/v2/guardian/factors/phone/providers/twilio"
            )
        return Step("twilio", spec_for(row, {}).kind, _row_channels(row), row=row)
    if selected == "phone-message-hook":
        action = await bound_action(uow, tenant, TRIGGER_SEND_PHONE_MESSAGE)
        if action is None:
            return (
                "the selected provider is phone-message-hook but no deployed action is bound "
                "to the send-phone-message trigger"
            )
        return Step("phone-message-hook", "action", frozenset({"sms", "voice"}), action=action)
    refusal = catalog.refusal(selected)
    if refusal:
        return refusal
    return Step(selected, selected, catalog.channels(selected))


async def plan(uow: UnitOfWork, catalog: ProviderCatalog, tenant: Tenant, channel: Channel) -> Plan:
    rows = await uow.phone_providers.list(tenant.id)
    primary = await _primary(uow, catalog, tenant, rows)
    name = _primary_name(tenant, rows)
    if isinstance(primary, str) and primary.startswith("the tenant phone provider (Branding"):
        return Plan((), problem=primary, primary=name)
    fallbacks = [
        Step(f"{r.name} (fallback {i})", spec_for(r, {}).kind, _row_channels(r), row=r)
        for i, r in enumerate(
            sorted(
                (r for r in rows if r.role == "fallback" and not r.disabled),
                key=lambda r: r.position,
            ),
            start=1,
        )
    ]
    steps: list[Step] = []
    skipped: str | None = None
    if isinstance(primary, str):
        skipped = primary
    elif channel in primary.channels:
        steps.append(primary)
    else:
        skipped = f"the {primary.label} provider cannot send {channel} messages"
    steps.extend(s for s in fallbacks if channel in s.channels)
    if not steps:
        return Plan((), problem=skipped or f"no provider can send {channel} messages", primary=name)
    return Plan(tuple(steps), skipped=skipped, primary=name)
