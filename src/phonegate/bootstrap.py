"""``phonegate bootstrap``: the default tenant, a demo application, a management
application, a demo user and a dashboard admin — created once, printed every time.

The applications store only hashes of their secrets, so bootstrap keeps its own copy of the
demo credentials encrypted with the server key ring (re-encrypted after a key rotation):
a second run prints the same credentials, and the database never holds them in clear.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from phonegate import ids
from phonegate.container import Container
from phonegate.domain import admins, clients
from phonegate.domain.grants import MANAGEMENT_SCOPES
from phonegate.domain.models import DATABASE_CONNECTION, Application, RequestContext
from phonegate.domain.tenants import new_tenant
from phonegate.domain.users import create_user

DEFAULT_TENANT = "default"
DEMO_APP = "Demo Application"
MANAGEMENT_APP = "phonegate Management"
DEMO_EMAIL = "demo@example.com"
ADMIN_EMAIL = "admin@example.com"
DEMO_GRANTS = [
    clients.GRANT_PASSWORD,
    clients.GRANT_PASSWORD_REALM,
    clients.GRANT_MFA_OOB,
    clients.GRANT_MFA_RECOVERY,
    clients.GRANT_PASSWORDLESS_OTP,
    clients.GRANT_AUTHORIZATION_CODE,
    clients.GRANT_REFRESH_TOKEN,
]
# The sample relying application (examples/webapp) logs in through Universal Login.
SAMPLE_APP_URL = "http://127.0.0.1:8081"
DEMO_URLS = {
    "callbacks": [f"{SAMPLE_APP_URL}/callback"],
    "allowed_logout_urls": [f"{SAMPLE_APP_URL}/"],
    "web_origins": [SAMPLE_APP_URL],
}


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
    admin_email: str
    admin_password: str

    def as_json(self) -> dict[str, object]:
        """Exactly the shape scripts rely on (`phonegate bootstrap --json`); the dashboard's
        admin credentials are printed by the text output only."""
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


CREDENTIALS_SECRET = "bootstrap.credentials"  # noqa: S105 - a stored secret's name


def _fresh_credentials() -> dict[str, str]:
    return {
        "demo_client_id": ids.client_id(),
        "demo_client_secret": ids.client_secret(),
        "management_client_id": ids.client_id(),
        "management_client_secret": ids.client_secret(),
        "password": "Demo-" + secrets.token_urlsafe(9),
        "admin_password": admins.generate_password(),
    }


async def bootstrap(c: Container, *, provider: str = "sandbox") -> Credentials:
    keys = c.keys
    now = c.clock.now()
    host = f"{c.settings.host}:{c.settings.port}"
    url = c.settings.public_url.rstrip("/") if c.settings.public_url else f"http://{host}"
    async with c.unit_of_work() as uow:
        tenant = await uow.tenants.get_by_name(DEFAULT_TENANT)
        if tenant is None:
            tenant = new_tenant(DEFAULT_TENANT, now, default=True)
            tenant.settings.friendly_name = "phonegate"
            tenant.settings.selected_provider = provider
            await uow.tenants.add(tenant)
        sealed = await uow.secrets.get(tenant.id, CREDENTIALS_SECRET)
        opened = keys.decrypt(sealed) if sealed else None
        if sealed and opened is None:
            raise SystemExit(
                "the stored demo credentials cannot be decrypted: is PHONEGATE_SECRET_KEYS "
                "missing the key they were written with?"
            )
        stored: dict[str, str] = json.loads(opened) if opened else {}
        # Credentials kept by an older phonegate gain the ones added since (the admin's).
        missing = {k: v for k, v in _fresh_credentials().items() if k not in stored}
        stored.update(missing)
        rewrapped = (
            keys.rewrap(sealed) if sealed and not missing else keys.encrypt(json.dumps(stored))
        )
        if rewrapped is not None:
            await uow.secrets.put(tenant.id, CREDENTIALS_SECRET, rewrapped, now)
        demo_id, demo_secret = stored["demo_client_id"], stored["demo_client_secret"]
        mgmt_id, mgmt_secret = stored["management_client_id"], stored["management_client_secret"]
        password = stored["password"]
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
            existing = await uow.applications.get(tenant.id, client_id)
            if existing is not None and (
                existing.client_grants != client_grants or existing.grant_types != list(grants)
            ):
                # A newer phonegate checks more scopes: the management application keeps
                # holding all of them, and the demo application its grants.
                await uow.applications.set_grants(tenant.id, client_id, list(grants), client_grants)
            if existing is None:
                digest, key_id = clients.hash_secret(secret)
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
        demo = await uow.applications.get(tenant.id, demo_id)
        if demo is not None and not demo.callbacks:
            # Older installs gain the sample application's URLs; set ones are kept.
            await uow.applications.set_urls(tenant.id, demo_id, **DEMO_URLS)
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
        if await uow.admins.get_by_email(tenant.id, ADMIN_EMAIL) is None:
            await admins.create_admin(uow, c.deps, tenant.id, ADMIN_EMAIL, stored["admin_password"])
        # Create the tenant's signing key now rather than racing for it at first use.
        await c.signing_keys(tenant.id, uow)
    # After a rotation, everything sealed under an older key moves to the new one.
    await c.reseal_secrets()
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
        admin_email=ADMIN_EMAIL,
        admin_password=stored["admin_password"],
    )
