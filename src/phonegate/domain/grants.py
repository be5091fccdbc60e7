"""What a successful grant hands the token issuer, and the audiences a tenant serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from phonegate.domain.models import Application, User

OIDC_SCOPES = ("openid", "profile", "email", "phone")
MFA_API_SCOPES = ("enroll", "read:authenticators", "remove:authenticators")
# Every scope the Management API checks; the bootstrap management application gets them all.
MANAGEMENT_SCOPES = (
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
    "read:guardian_factors",
    "update:guardian_factors",
    "read:mfa_policies",
    "update:mfa_policies",
    "read:guardian_enrollments",
    "delete:guardian_enrollments",
    "read:authentication_methods",
    "delete:authentication_methods",
    "read:sandbox_messages",
    "read:phone_providers",
    "create:phone_providers",
    "update:phone_providers",
    "delete:phone_providers",
    "read:phone_templates",
    "create:phone_templates",
    "update:phone_templates",
    "delete:phone_templates",
    "read:actions",
    "create:actions",
    "update:actions",
    "delete:actions",
    "read:phone_messages",
    "read:logs",
    "read:log_streams",
    "create:log_streams",
    "update:log_streams",
    "delete:log_streams",
    "read:attack_protection",
    "update:attack_protection",
    "read:tenant_settings",
    "update:tenant_settings",
    "read:connections",
    "create:connections",
    "update:connections",
    "delete:connections",
)


@dataclass(frozen=True, slots=True)
class Audiences:
    """The tenant's own APIs, as seen from the request's host."""

    userinfo: str
    mfa: frozenset[str]
    management: frozenset[str]


@dataclass(slots=True)
class Grant:
    user: User
    app: Application
    scope: str
    audience: str | None
    amr: list[str] = field(default_factory=lambda: ["pwd"])
    recovery_code: str | None = None


def split_scope(scope: object) -> list[str]:
    if not isinstance(scope, str):
        return []
    seen: list[str] = []
    for item in scope.split():
        if item not in seen:
            seen.append(item)
    return seen


def granted_scope(requested: object, audience: str | None, audiences: Audiences) -> str:
    wanted = split_scope(requested)
    allowed = MFA_API_SCOPES if audience in audiences.mfa else OIDC_SCOPES
    return " ".join(s for s in wanted if s in allowed)
