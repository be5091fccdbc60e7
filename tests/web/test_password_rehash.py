"""A password stored with older argon2 parameters is hashed again with today's at the next
successful login, and only then: a wrong password changes nothing."""

from __future__ import annotations

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from phonegate.passwords import Argon2Passwords
from tests.conftest import Api

OLD = Argon2Passwords(time_cost=1, memory_cost=8 * 1024)


async def stored_hash(container: Container, user_id: str) -> str:
    async with container.reading() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        user = await uow.users.get(tenant.id, user_id)
    assert user is not None
    return user.password_hash


async def store_old_hash(container: Container, user_id: str, password: str) -> str:
    old = await OLD.hash(password)
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        current = await stored_hash(container, user_id)
        assert await uow.users.replace_password_hash(tenant.id, user_id, current, old)
    return old


async def test_a_login_rehashes_a_password_with_old_parameters(
    api: Api, container: Container, creds: Credentials
) -> None:
    user_id = await api.create_user("old@example.com", "correct horse 1")
    old = await store_old_hash(container, user_id, "correct horse 1")
    assert "m=8192,t=1" in old and container.passwords.needs_rehash(old)

    r = await api.login("old@example.com", "wrong horse 1")
    assert r.status_code == 403
    assert await stored_hash(container, user_id) == old

    r = await api.login("old@example.com", "correct horse 1")
    assert r.status_code == 200, r.text
    new = await stored_hash(container, user_id)
    assert new != old and not container.passwords.needs_rehash(new)
    s = container.settings
    assert f"m={s.argon2_memory_kib},t={s.argon2_time_cost},p={s.argon2_parallelism}" in new
    # The new hash checks the same password, and is left alone from now on.
    r = await api.login("old@example.com", "correct horse 1")
    assert r.status_code == 200, r.text
    assert await stored_hash(container, user_id) == new


async def test_a_hash_changed_meanwhile_is_not_overwritten(
    container: Container, creds: Credentials
) -> None:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        current = await stored_hash(container, creds.user_id)
        assert not await uow.users.replace_password_hash(
            tenant.id, creds.user_id, "not-the-stored-hash", "x"
        )
    assert await stored_hash(container, creds.user_id) == current
