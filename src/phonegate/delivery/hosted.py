"""The ``HostedCheck`` port: ask the vendor that owns a code whether it is right.

Used by the mfa-oob grant when the challenge was sent in hosted mode (Twilio Verify's own
check): phonegate made no code, so only the vendor can say.
"""

from __future__ import annotations

from phonegate.delivery.chain import ChainBuilder
from phonegate.domain.delivery_plan import Step
from phonegate.domain.models import PhoneProvider
from phonegate.domain.phone_providers import spec_for
from phonegate.errors import ProviderUnavailable
from phonegate.providers.base import HostedVerifier, ProviderError, Rejected


class HostedChecks:
    def __init__(self, chain: ChainBuilder) -> None:
        self._chain = chain

    async def check(
        self, row: PhoneProvider, recipient: str, code: str, verification_id: str | None
    ) -> bool:
        spec = spec_for(row, {})
        try:
            built = self._chain.build(Step(row.name, spec.kind, spec.channels, row=row))
            if not isinstance(built.provider, HostedVerifier):
                raise ProviderUnavailable("The provider that sent this code cannot check it.")
            return await built.provider.check_verification(recipient, code, verification_id)
        except Rejected:
            return False  # e.g. too many checks at the vendor: the code is dead
        except ProviderError as exc:
            raise ProviderUnavailable(
                f"The code cannot be checked right now ({exc.message}). Try again."
            ) from None
