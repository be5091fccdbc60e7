"""What domain services need besides a unit of work, bundled once by the container."""

from __future__ import annotations

from dataclasses import dataclass

from phonegate.clock import Clock
from phonegate.domain.ports import (
    Counters,
    HostedCheck,
    MetricsSink,
    PasswordHasher,
    ProviderCatalog,
)
from phonegate.keys import KeyRing


@dataclass(frozen=True, slots=True)
class Policy:
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5
    mfa_token_ttl_seconds: int = 600


@dataclass(frozen=True, slots=True)
class DomainDeps:
    keys: KeyRing
    clock: Clock
    catalog: ProviderCatalog
    passwords: PasswordHasher
    policy: Policy
    hosted: HostedCheck | None = None
    # Shared counters (Redis) when several processes run; None: the database's, in the
    # request's own transaction.
    counters: Counters | None = None
    metrics: MetricsSink | None = None
