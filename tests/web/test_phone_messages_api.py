"""GET /api/v2/phone/messages[/{id}]: what was sent, to a masked number, with every attempt,
and never the code or the text."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api

FIRST = "+14155550123"
SECOND = "+14155550188"
LISTED = {
    "id",
    "channel",
    "recipient",
    "status",
    "provider",
    "provider_message_id",
    "delivery",
    "last_error",
    "user_id",
    "client_id",
    "created_at",
    "sent_at",
    "expires_at",
}


@pytest.fixture
async def sent(api: Api) -> list[str]:
    """A user starts enrolling one number, then another, through the sandbox; returns
    what the two messages said."""
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    for phone in (FIRST, SECOND):
        r = await api.associate(token, phone)
        assert r.status_code == 200, r.text
    return [m["text"] for m in await api.inbox()]


async def test_messages_are_listed_newest_first_without_codes_text_or_numbers(
    api: Api, sent: list[str]
) -> None:
    r = await api.mgmt("GET", "/phone/messages")
    assert r.status_code == 200, r.text
    second, first = r.json()
    assert set(second) == set(first) == LISTED
    assert (first["recipient"], second["recipient"]) == ("XXXXXXXX0123", "XXXXXXXX0188")
    assert first["status"] == second["status"] == "sent"
    assert first["provider"] == "sandbox" and first["channel"] == "sms"
    dumped = r.text
    for text in sent:
        assert text not in dumped
    for code in await api.inbox():
        assert code["code"] not in dumped
    assert "4155550123" not in dumped and "4155550188" not in dumped


async def test_limit_and_recipient_narrow_the_list(api: Api, sent: list[str]) -> None:
    r = await api.mgmt("GET", "/phone/messages", params={"limit": "1"})
    assert r.status_code == 200, r.text
    (newest,) = r.json()
    assert newest["recipient"] == "XXXXXXXX0188"
    r = await api.mgmt("GET", "/phone/messages", params={"recipient": FIRST})
    assert r.status_code == 200, r.text
    assert [m["recipient"] for m in r.json()] == ["XXXXXXXX0123"]
    r = await api.mgmt("GET", "/phone/messages", params={"recipient": "+14155550100"})
    assert r.status_code == 200 and r.json() == [], r.text
    for bad in ("0", "201", "ten", "-1"):
        r = await api.mgmt("GET", "/phone/messages", params={"limit": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["errorCode"] == "invalid_query_string"


async def test_one_message_shows_its_attempts(api: Api, sent: list[str]) -> None:
    listed = (await api.mgmt("GET", "/phone/messages")).json()
    assert all("attempts" not in m for m in listed)
    r = await api.mgmt("GET", f"/phone/messages/{listed[0]['id']}")
    assert r.status_code == 200, r.text
    detail = r.json()
    assert {k: v for k, v in detail.items() if k != "attempts"} == listed[0]
    (attempt,) = detail["attempts"]
    assert attempt["provider"] == "sandbox" and attempt["position"] == 0
    assert attempt["outcome"] == "sent" and attempt["error"] is None
    assert attempt["provider_message_id"] == detail["provider_message_id"]
    assert attempt["started_at"] and attempt["finished_at"]
    assert json.dumps(detail).count("4155550188") == 0


async def test_reading_messages_takes_read_phone_messages_or_read_logs(
    api: Api, sent: list[str]
) -> None:
    message_id = (await api.mgmt("GET", "/phone/messages")).json()[0]["id"]
    paths = ("/api/v2/phone/messages", f"/api/v2/phone/messages/{message_id}")
    for scope, status in [
        ("read:phone_messages", 200),
        ("read:logs", 200),
        ("read:users read:phone_providers", 403),
    ]:
        headers = {"authorization": f"Bearer {await api.management_token(scope)}"}
        for path in paths:
            r = await api.client.get(path, headers=headers)
            assert r.status_code == status, (scope, path, r.text)
            if status == 403:
                assert r.json()["errorCode"] == "insufficient_scope"
    for path in paths:
        assert (await api.client.get(path)).status_code == 401


async def test_an_unknown_message_is_a_management_api_404(api: Api) -> None:
    r = await api.mgmt("GET", "/phone/messages/msg_doesnotexist0000000000")
    assert r.status_code == 404, r.text
    assert r.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Message not found",
        "errorCode": "message_not_found",
    }
