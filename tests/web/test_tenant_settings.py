"""GET/PATCH /api/v2/tenants/settings: the friendly name and default language of messages."""

from __future__ import annotations

from tests.conftest import Api


async def test_friendly_name_and_default_language_reach_the_next_message(api: Api) -> None:
    r = await api.mgmt("GET", "/tenants/settings")
    assert r.status_code == 200 and r.json() == {
        "friendly_name": "phonegate",
        "enabled_locales": ["en"],
    }
    r = await api.mgmt(
        "PATCH", "/tenants/settings", json={"friendly_name": "Acme Bank", "enabled_locales": ["fr"]}
    )
    assert r.status_code == 200 and r.json() == {
        "friendly_name": "Acme Bank",
        "enabled_locales": ["fr"],
    }
    await api.enable_mfa()
    await api.create_user()
    r = await api.associate(await api.mfa_token())
    assert r.status_code == 200, r.text
    [message] = await api.inbox()
    assert "Acme Bank" in message["text"] and "code" in message["text"].lower()
    assert "verification code for" not in message["text"]  # French, not English


async def test_bad_settings_are_refused(api: Api) -> None:
    for body in (
        {"friendly_name": ""},
        {"friendly_name": 5},
        {"enabled_locales": []},
        {"enabled_locales": ["tlh"]},
        {"picture_url": "https://example.com/x.png"},
    ):
        r = await api.mgmt("PATCH", "/tenants/settings", json=body)
        assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body", (body, r.text)
    token = await api.management_token(scope="read:tenant_settings")
    r = await api.client.patch(
        "/api/v2/tenants/settings",
        json={"friendly_name": "x"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403
