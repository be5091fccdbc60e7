"""The one map of built-in providers, and the catalogue the domain consults."""

from __future__ import annotations

from phonegate.providers.base import Inbox
from phonegate.providers.sandbox import InboxProvider, evaluation_provider, sandbox_provider

# Provider names the Guardian API accepts, with what each can carry when configured.
KNOWN_PROVIDERS: dict[str, frozenset[str]] = {
    "auth0": frozenset({"sms"}),
    "sandbox": frozenset({"sms", "voice"}),
}


class ProviderRegistry:
    def __init__(self, inbox: Inbox, *, production: bool) -> None:
        self._production = production
        self._providers: dict[str, InboxProvider] = {
            "auth0": evaluation_provider(inbox),
            "sandbox": sandbox_provider(inbox, production=production),
        }

    def get(self, name: str) -> InboxProvider | None:
        return self._providers.get(name)

    # ProviderCatalog port
    def channels(self, name: str) -> frozenset[str]:
        return KNOWN_PROVIDERS.get(name, frozenset())

    def refusal(self, name: str) -> str | None:
        if name not in KNOWN_PROVIDERS:
            return f"the delivery provider {name!r} is not available on this server"
        if name == "sandbox" and self._production:
            return "the sandbox provider cannot be used when PHONEGATE_ENV=production"
        return None
