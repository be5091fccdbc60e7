"""Turning a delivery plan's steps into provider instances, and sending through one.

The dispatcher uses this for every message; the Management API's ``/try`` endpoints use it
to send one test message right away and report the provider's own answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from phonegate.domain.delivery_plan import Step
from phonegate.domain.models import PhoneProvider
from phonegate.domain.phone_providers import SealedUnreadable, open_sealed, spec_for
from phonegate.keys import KeyRing
from phonegate.providers.base import (
    HostedVerifier,
    Misconfigured,
    OutgoingMessage,
    SendResult,
    SmsSender,
    VoiceSender,
)
from phonegate.providers.registry import ProviderRegistry, describe


@dataclass(frozen=True, slots=True)
class Built:
    provider: Any
    name: str  # the provider's own name, as events and receipts record it
    config_id: str | None  # the row (or action) it was built from


def _version(row: PhoneProvider) -> str:
    # What the instance was built from, not when: two saves within one clock tick must not
    # leave the old credentials in use. (The sealed credentials change at every save.)
    material = json.dumps([row.name, row.configuration, row.credentials], sort_keys=True)
    return f"{row.id}@{hashlib.sha256(material.encode()).hexdigest()[:16]}"


class ChainBuilder:
    def __init__(self, registry: ProviderRegistry, keys: KeyRing) -> None:
        self._registry = registry
        self._keys = keys

    def build(self, step: Step) -> Built:
        """An instance for a step; a configuration that no longer validates (a provider
        module changed, a key was dropped) is ``Misconfigured``, never a crash."""
        if step.builtin:
            builtin = self._registry.builtin(step.kind)
            if builtin is None:
                raise Misconfigured(f"the delivery provider {step.kind!r} is not available")
            return Built(builtin, builtin.name, None)
        try:
            if step.action is not None:
                action = step.action
                values: dict[str, Any] = {
                    "target": action.deployed_code,
                    "trigger": action.trigger,
                    "secrets": open_sealed(self._keys, action.deployed_secrets),
                }
                instance = self._registry.build(
                    "action", values, cache_key=f"{action.id}@v{action.version}"
                )
                return Built(instance, "action", action.id)
            assert step.row is not None
            row = step.row
            spec = spec_for(row, open_sealed(self._keys, row.credentials))
            instance = self._registry.build(spec.kind, spec.values, cache_key=_version(row))
        except ValidationError as exc:
            # Never str(exc): pydantic quotes the input, credentials included.
            raise Misconfigured(
                f"the {step.label} configuration is not usable: {describe(exc)}"
            ) from None
        except SealedUnreadable:
            raise Misconfigured(
                f"the {step.label} credentials cannot be decrypted with the server keys; "
                "enter them again"
            ) from None
        except (KeyError, ImportError) as exc:
            raise Misconfigured(
                f"the {step.label} provider is not available ({type(exc).__name__})"
            ) from None
        return Built(instance, spec.kind, row.id)


async def send_through(built: Built, message: OutgoingMessage) -> SendResult:
    """One send through one provider, by channel; a hosted verifier starts a verification
    when the vendor is to make the code (the message carries none)."""
    provider = built.provider
    # Being a HostedVerifier is not enough: Twilio Verify is one in both of its modes, and
    # its ``hosted`` property says whether the vendor makes the code. A message carrying
    # phonegate's own code never goes that way (the vendor would send another code).
    hosted = getattr(provider, "hosted", True)
    if message.code is None:
        if hosted and isinstance(provider, HostedVerifier):
            return await provider.start_verification(message)
        raise Misconfigured(
            f"the {built.name} provider cannot send a code that the vendor of a hosted "
            "verification makes"
        )
    if message.channel == "voice":
        if not isinstance(provider, VoiceSender):
            raise Misconfigured(f"the {built.name} provider cannot place calls")
        return await provider.place_call(message)
    if isinstance(provider, SmsSender):
        return await provider.send_sms(message)
    raise Misconfigured(f"the {built.name} provider cannot send SMS")
