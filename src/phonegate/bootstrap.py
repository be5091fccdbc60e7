"""``phonegate bootstrap``: the default tenant, a demo application, a management
application and a demo user — created once, printed every time.

The demo secrets are derived from the server key rather than stored, so a second run prints
the same credentials without the database ever holding them in clear.
"""

from __future__ import annotations

from dataclasses import dataclass

from phonegate.container import Container
from phonegate.domain import clients
from phonegate.domain.grants import MANAGEMENT_SCOPES
from phonegate.domain.models import DATABASE_CONNECTION, Application, RequestContext
from phonegate.domain.tenants import new_tenant
from phonegate.domain.users import create_user

DEFAULT_TENANT = "default"
DEMO_APP = "Demo Application"
MANAGEMENT_APP = "phonegate Management"
DEMO_EMAIL = "demo@example.com"
DEMO_GRANTS = [
    clients.GRANT_PASSWORD,
    clients.GRANT_PASSWORD_REALM,
    clients.GRANT_MFA_OOB,
    clients.GRANT_MFA_OTP,
    clients.GRANT_MFA_RECOVERY,
]


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    client_id: str
    client_secret: str
    management_client_id: str
    management_client_secret: str
    audience: str
    email: str
    password: str
    user_id: str

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "application": {"client_id": self.client_id, "client_secret": self.client_secret},
            "management": {
                "client_id": self.management_client_id,
                "client_secret": self.management_client_secret,
                "audience": self.audience,
            },
            "user": {"email": self.email, "password": self.password, "user_id": self.user_id},
        }


async def bootstrap(c: Container, *, provider: str = "sandbox") -> Credentials:
    keys = c.keys
    now = c.clock.now()
    demo_id = keys.derive_secret("demo-client-id", 32)
    demo_secret = keys.derive_secret("demo-client-secret", 43)
    mgmt_id = keys.derive_secret("management-client-id", 32)
    mgmt_secret = keys.derive_secret("management-client-secret", 43)
    password = "Demo-" + keys.derive_secret("demo-user-password", 12)
    host = f"{c.settings.host}:{c.settings.port}"
    url = c.settings.public_url.rstrip("/") if c.settings.public_url else f"http://{host}"
    async with c.unit_of_work() as uow:
        tenant = await uow.tenants.get_by_name(DEFAULT_TENANT)
        if tenant is None:
            tenant = new_tenant(DEFAULT_TENANT, now, default=True)
            tenant.settings.selected_provider = provider
            await uow.tenants.add(tenant)
        for client_id, secret, name, app_type, grants, client_grants in (
            (demo_id, demo_secret, DEMO_APP, "regular_web", DEMO_GRANTS, {}),
            (
                mgmt_id,
                mgmt_secret,
                MANAGEMENT_APP,
                "non_interactive",
                [clients.GRANT_CLIENT_CREDENTIALS],
                {"management": list(MANAGEMENT_SCOPES)},
            ),
        ):
            if await uow.applications.get(tenant.id, client_id) is None:
                digest, key_id = clients.hash_secret(keys, secret)
                await uow.applications.add(
                    Application(
                        tenant_id=tenant.id,
                        client_id=client_id,
                        name=name,
                        secret_hash=digest,
                        secret_key_id=key_id,
                        grant_types=list(grants),
                        client_grants=client_grants,
                        metadata={},
                        app_type=app_type,
                        created_at=now,
                    )
                )
        user = await uow.users.get_by_email(tenant.id, DEMO_EMAIL)
        if user is None:
            user = await create_user(
                uow,
                c.deps,
                tenant.id,
                {
                    "connection": DATABASE_CONNECTION,
                    "email": DEMO_EMAIL,
                    "password": password,
                    "email_verified": True,
                    "name": "Demo User",
                },
                RequestContext(),
            )
    return Credentials(
        url=url,
        client_id=demo_id,
        client_secret=demo_secret,
        management_client_id=mgmt_id,
        management_client_secret=mgmt_secret,
        audience=f"https://{url.split('://', 1)[1]}/api/v2/",
        email=DEMO_EMAIL,
        password=password,
        user_id=user.user_id,
    )
