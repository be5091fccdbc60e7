"""Management API v2: users, their authenticators, Guardian settings, the sandbox inbox,
and access control (``{statusCode, error, message, errorCode}`` errors)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Api
from tests.shapes import mgmt_error

CONNECTION = "Username-Password-Authentication"
PHONE = "+14155550123"
MGMT_AUDIENCE = "https://phonegate.test/api/v2/"
FACTOR_NAMES = [
    "sms",
    "push-notification",
    "otp",
    "email",
    "duo",
    "webauthn-roaming",
    "webauthn-platform",
    "recovery-code",
]


def new_user(email: str = "carol@example.com", **extra: Any) -> dict[str, Any]:
    return {"connection": CONNECTION, "email": email, "password": "correct horse 1", **extra}


# --- users --------------------------------------------------------------------------------


async def test_user_lifecycle(api: Api) -> None:
    r = await api.mgmt("POST", "/users", json=new_user(name="Carol", user_metadata={"a": 1}))
    assert r.status_code == 201, r.text
    created = r.json()
    user_id = created["user_id"]
    assert user_id.startswith("auth0|") and created["email"] == "carol@example.com"
    assert created["name"] == "Carol" and created["user_metadata"] == {"a": 1}
    assert created["identities"][0]["connection"] == CONNECTION
    assert "password" not in created and not any("hash" in k for k in created)

    # GET, with the "|" raw and percent-encoded.
    for path in (f"/users/{user_id}", f"/users/{quote(user_id, safe='')}"):
        r = await api.mgmt("GET", path)
        assert r.status_code == 200, r.text
        assert r.json()["user_id"] == user_id and r.json()["email"] == "carol@example.com"

    r = await api.mgmt(
        "PATCH", f"/users/{user_id}", json={"name": "Caroline", "user_metadata": {"b": 2}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Caroline" and r.json()["user_metadata"] == {"a": 1, "b": 2}
    r = await api.mgmt("GET", f"/users/{user_id}")
    assert r.json()["name"] == "Caroline"

    # A new password works at the token endpoint, the old one does not.
    r = await api.mgmt("PATCH", f"/users/{user_id}", json={"password": "battery staple 2"})
    assert r.status_code == 200, r.text
    assert (await api.login("carol@example.com", "battery staple 2")).status_code == 200
    assert (await api.login("carol@example.com", "correct horse 1")).status_code == 403

    r = await api.mgmt("DELETE", f"/users/{user_id}")
    assert r.status_code == 204 and r.content == b"", r.text
    r = await api.mgmt("GET", f"/users/{user_id}")
    mgmt_error(r, 404, "inexistent_user", "The user does not exist.")
    r = await api.mgmt("DELETE", f"/users/{user_id}")
    mgmt_error(r, 404, "inexistent_user")
    # The deleted user cannot log in (and gets the usual answer).
    r = await api.login("carol@example.com", "battery staple 2")
    assert r.status_code == 403 and r.json()["error"] == "invalid_grant", r.text


async def test_create_user_errors(api: Api) -> None:
    r = await api.mgmt("POST", "/users", json=new_user())
    assert r.status_code == 201, r.text
    r = await api.mgmt("POST", "/users", json=new_user())
    mgmt_error(r, 409, "auth0_idp_error", "The user already exists.")
    r = await api.mgmt("POST", "/users", json=new_user("CAROL@example.com"))
    mgmt_error(r, 409, "auth0_idp_error", "The user already exists.")

    for password in ("short", "", 12345678):
        r = await api.mgmt(
            "POST", "/users", json={**new_user("d@example.com"), "password": password}
        )
        body = mgmt_error(r, 400, "invalid_body")
        if isinstance(password, str) and password:
            assert body["message"].startswith("PasswordStrengthError: Password is too weak")
    for email in ("not-an-email", "a@b", "two@@example.com", "", None, 42, "x" * 400 + "@e.com"):
        r = await api.mgmt("POST", "/users", json={**new_user(), "email": email})
        body = mgmt_error(r, 400, "invalid_body")
        assert body["message"].startswith("Payload validation error"), body
    r = await api.mgmt("POST", "/users", json={**new_user("e@example.com"), "connection": "x"})
    mgmt_error(r, 400)
    r = await api.mgmt(
        "POST", "/users", json={**new_user("e@example.com"), "user_metadata": "nope"}
    )
    mgmt_error(r, 400, "invalid_body")
    # None of the refused ones exists.
    r = await api.login("d@example.com", "short")
    assert r.status_code == 403


async def test_patch_and_get_errors(api: Api) -> None:
    a = await api.create_user("a@example.com")
    await api.create_user("b@example.com")
    r = await api.mgmt("PATCH", f"/users/{a}", json={"email": "b@example.com"})
    mgmt_error(r, 409)
    r = await api.mgmt("PATCH", f"/users/{a}", json={"password": "short"})
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt("PATCH", f"/users/{a}", json={"email": "nope"})
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt("PATCH", f"/users/{a}", json={"is_admin": True})
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt("PATCH", f"/users/{a}", json={"blocked": "yes"})
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt("GET", f"/users/{a}")
    assert r.json()["email"] == "a@example.com" and r.json()["blocked"] is False
    for user_id in ("auth0|000000000000000000000000", "nobody", quote("auth0|nope", safe="")):
        for method, kwargs in (("GET", {}), ("PATCH", {"json": {"name": "x"}}), ("DELETE", {})):
            r = await api.mgmt(method, f"/users/{user_id}", **kwargs)
            mgmt_error(r, 404, "inexistent_user", "The user does not exist.")
    r = await api.mgmt("GET", "/users/" + "x" * 200)
    mgmt_error(r, 400)


# --- authentication methods and authenticators ----------------------------------------------


async def test_authentication_methods(api: Api) -> None:
    await api.enable_mfa()
    enrolled = await api.enrolled_user()
    user_id = enrolled["user_id"]
    r = await api.mgmt(
        "GET",
        f"/users/{user_id}/authentication-methods",
        params={"page": 0, "per_page": 50, "include_totals": "true"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"authenticators", "start", "limit", "total"}, body
    assert body["start"] == 0 and body["limit"] == 50 and body["total"] == 2
    methods = body["authenticators"]
    assert sorted(m["type"] for m in methods) == ["phone", "recovery-code"]
    for method in methods:
        assert isinstance(method["id"], str) and method["id"]
        assert isinstance(method["created_at"], str) and method["created_at"]
    [phone] = [m for m in methods if m["type"] == "phone"]
    assert phone["phone_number"] == "XXXXXXXX0123" and phone["confirmed"] is True
    assert phone["id"].startswith("phone|dev_")
    assert PHONE not in r.text and PHONE[1:] not in r.text

    # Without include_totals (its default is false): a bare array.
    r = await api.mgmt("GET", f"/users/{user_id}/authentication-methods")
    assert r.status_code == 200 and isinstance(r.json(), list) and len(r.json()) == 2, r.text
    # Paging.
    r = await api.mgmt(
        "GET",
        f"/users/{user_id}/authentication-methods",
        params={"page": 1, "per_page": 1, "include_totals": "true"},
    )
    assert r.json()["start"] == 1 and r.json()["limit"] == 1 and r.json()["total"] == 2
    assert len(r.json()["authenticators"]) == 1
    r = await api.mgmt(
        "GET",
        f"/users/{user_id}/authentication-methods",
        params={"page": 5, "per_page": 50, "include_totals": "true"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["authenticators"] == [] and r.json()["total"] == 2
    r = await api.mgmt("GET", f"/users/{user_id}/authentication-methods", params={"page": 9})
    assert r.status_code == 200 and r.json() == [], r.text
    for params in ({"page": -1}, {"per_page": 0}, {"per_page": 101}, {"page": "x"}):
        r = await api.mgmt("GET", f"/users/{user_id}/authentication-methods", params=params)
        mgmt_error(r, 400)
    r = await api.mgmt("GET", "/users/auth0|nobody/authentication-methods")
    mgmt_error(r, 404, "inexistent_user")


async def test_delete_authenticators_forces_reenrollment(api: Api) -> None:
    await api.enable_mfa()
    user_id = (await api.enrolled_user())["user_id"]
    r = await api.mgmt("DELETE", f"/users/{user_id}/authenticators")
    assert r.status_code == 204 and r.content == b"", r.text
    r = await api.mgmt(
        "GET", f"/users/{user_id}/authentication-methods", params={"include_totals": "true"}
    )
    assert r.json()["authenticators"] == [] and r.json()["total"] == 0, r.text
    # The next login still needs MFA, the user has nothing to be challenged on and must
    # enroll again — which the mfa_token now allows, with a fresh recovery code.
    token = await api.mfa_token()
    r = await api.client.get("/mfa/authenticators", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json() == [], r.text
    r = await api.challenge(token)
    assert r.status_code == 400 and r.json()["error"] == "association_required", r.text
    r = await api.associate(token, "+14155550188")
    assert r.status_code == 200, r.text
    assert len(r.json()["recovery_codes"]) == 1
    r = await api.mgmt("DELETE", "/users/auth0|nobody/authenticators")
    mgmt_error(r, 404, "inexistent_user")


# --- Guardian -----------------------------------------------------------------------------


async def test_guardian_factors(api: Api) -> None:
    r = await api.mgmt("GET", "/guardian/factors")
    assert r.status_code == 200, r.text
    assert [f["name"] for f in r.json()] == FACTOR_NAMES
    assert all(f["enabled"] is False and f["trial_expired"] is False for f in r.json())

    for name in ("sms", "recovery-code"):
        r = await api.mgmt("PUT", f"/guardian/factors/{name}", json={"enabled": True})
        assert r.status_code == 200 and r.json() == {"enabled": True}, r.text
    r = await api.mgmt("GET", "/guardian/factors")
    enabled = {f["name"] for f in r.json() if f["enabled"]}
    assert enabled == {"sms", "recovery-code"}

    r = await api.mgmt("PUT", "/guardian/factors/nope", json={"enabled": True})
    mgmt_error(r, 400)
    r = await api.mgmt("PUT", "/guardian/factors/phone", json={"enabled": True})
    mgmt_error(r, 400)
    for name in ("otp", "push-notification", "webauthn-roaming"):
        r = await api.mgmt("PUT", f"/guardian/factors/{name}", json={"enabled": True})
        mgmt_error(r, 400)
        r = await api.mgmt("PUT", f"/guardian/factors/{name}", json={"enabled": False})
        assert r.status_code == 200 and r.json() == {"enabled": False}, r.text
    for body in ({}, {"enabled": "true"}, {"enabled": 1}, {"enabled": None}):
        r = await api.mgmt("PUT", "/guardian/factors/sms", json=body)
        mgmt_error(r, 400)
    r = await api.mgmt("PUT", "/guardian/factors/sms", json={"enabled": False})
    assert r.status_code == 200 and r.json() == {"enabled": False}, r.text
    r = await api.mgmt("GET", "/guardian/factors")
    assert {f["name"] for f in r.json() if f["enabled"]} == {"recovery-code"}


async def test_guardian_message_types_and_policies(api: Api) -> None:
    path = "/guardian/factors/phone/message-types"
    for chosen in (["sms"], ["voice"], ["sms", "voice"], ["voice", "sms"]):
        r = await api.mgmt("PUT", path, json={"message_types": chosen})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["message_types"]) == sorted(chosen)
        r = await api.mgmt("GET", path)
        assert r.status_code == 200 and sorted(r.json()["message_types"]) == sorted(chosen)
    for bad in ([], ["email"], ["sms", "sms"], "sms", ["sms", "email"], [1], None):
        r = await api.mgmt("PUT", path, json={"message_types": bad})
        mgmt_error(r, 400)
    r = await api.mgmt("PUT", path, json={})
    mgmt_error(r, 400)
    r = await api.mgmt("GET", path)
    assert sorted(r.json()["message_types"]) == ["sms", "voice"]

    # Policies: [] and ["all-applications"] only.
    r = await api.mgmt("GET", "/guardian/policies")
    assert r.status_code == 200 and r.json() == [], r.text
    for chosen in (["all-applications"], []):
        r = await api.mgmt("PUT", "/guardian/policies", json=chosen)
        assert r.status_code == 200 and r.json() == chosen, r.text
        r = await api.mgmt("GET", "/guardian/policies")
        assert r.json() == chosen
    for bad_policy in (
        ["confidence-score"],
        ["all-applications", "all-applications"],
        ["all-applications", "confidence-score"],
        "all-applications",
        {"policies": ["all-applications"]},
        [1],
        None,
    ):
        r = await api.mgmt("PUT", "/guardian/policies", json=bad_policy)
        mgmt_error(r, 400)
    r = await api.mgmt("GET", "/guardian/policies")
    assert r.json() == []


async def test_sandbox_messages_newest_first(api: Api) -> None:
    await api.enable_mfa()
    await api.create_user("a@example.com")
    await api.create_user("b@example.com")
    for email, phone in (("a@example.com", "+14155550101"), ("b@example.com", "+14155550102")):
        r = await api.associate(await api.mfa_token(email), phone)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.002)  # the inbox stamps messages with the wall clock
    messages = await api.inbox()
    assert [m["recipient"] for m in messages] == ["+14155550102", "+14155550101"]
    assert messages[0]["created_at"] >= messages[1]["created_at"]
    for m in messages:
        assert m["channel"] == "sms" and m["provider"] == "sandbox"
        assert m["code"] in m["text"]
    r = await api.mgmt("GET", "/sandbox/messages", params={"recipient": "+14155550101"})
    assert [m["recipient"] for m in r.json()] == ["+14155550101"]
    r = await api.mgmt("GET", "/sandbox/messages", params={"limit": 1})
    assert [m["recipient"] for m in r.json()] == ["+14155550102"]
    for limit in ("0", "x", "1001"):
        r = await api.mgmt("GET", "/sandbox/messages", params={"limit": limit})
        mgmt_error(r, 400)


# --- access control ---------------------------------------------------------------------------


async def test_reduced_scope_cannot_write(api: Api) -> None:
    user_id = await api.create_user()
    token = await api.management_token(scope="read:users")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"] == "read:users"
    headers = {"authorization": f"Bearer {token}"}
    r = await api.client.get(f"/api/v2/users/{user_id}", headers=headers)
    assert r.status_code == 200, r.text
    for method, path, body in (
        ("POST", "/users", new_user()),
        ("PATCH", f"/users/{user_id}", {"name": "x"}),
        ("DELETE", f"/users/{user_id}", None),
        ("DELETE", f"/users/{user_id}/authenticators", None),
        ("PUT", "/guardian/factors/sms", {"enabled": True}),
        ("PUT", "/guardian/factors/phone/message-types", {"message_types": ["sms"]}),
        ("PUT", "/guardian/policies", ["all-applications"]),
        ("GET", "/guardian/factors", None),
        ("GET", "/sandbox/messages", None),
    ):
        r = await api.client.request(method, "/api/v2" + path, headers=headers, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    # Nothing changed.
    r = await api.mgmt("GET", f"/users/{user_id}")
    assert r.status_code == 200 and r.json()["name"] == "alice@example.com", r.text
    r = await api.mgmt("GET", "/guardian/policies")
    assert r.json() == []


async def test_missing_forged_or_foreign_tokens_are_401(api: Api) -> None:
    user_id = await api.create_user()
    # No token, or not a token.
    path = f"/api/v2/users/{user_id}"
    r = await api.client.get(path)
    mgmt_error(r, 401)
    for value in ("", "Bearer", "Bearer ", "Basic abc", "Bearer garbage", "Bearer a.b.c"):
        r = await api.client.get(path, headers={"authorization": value})
        mgmt_error(r, 401)
    r = await api.client.put("/api/v2/guardian/policies", json=["all-applications"])
    mgmt_error(r, 401)

    # Signed by someone else.
    genuine = await api.management_token()
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = [
        # Same kid and claims, another key.
        jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]}),
        # Another kid.
        jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "someone-else"}),
        # No signature at all.
        jwt.encode(claims, "", algorithm="none", headers={"kid": header["kid"]}),
        # HS256 keyed with something public.
        jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": header["kid"]}),
        # The genuine token with its payload swapped.
        genuine.split(".")[0]
        + "."
        + jwt.encode({**claims, "scope": "delete:users"}, "k" * 32, algorithm="HS256").split(".")[1]
        + "."
        + genuine.split(".")[2],
    ]
    for token in forged:
        r = await api.client.get(
            f"/api/v2/users/{user_id}", headers={"authorization": f"Bearer {token}"}
        )
        mgmt_error(r, 401)
        r = await api.client.delete(
            f"/api/v2/users/{user_id}", headers={"authorization": f"Bearer {token}"}
        )
        mgmt_error(r, 401)
    r = await api.mgmt("GET", f"/users/{user_id}")
    assert r.status_code == 200, r.text

    # Genuine, but for the userinfo audience (a password login), not the Management API.
    r = await api.login(api.creds.email, api.creds.password, scope="openid profile")
    assert r.status_code == 200, r.text
    token, id_token = r.json()["access_token"], r.json()["id_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert MGMT_AUDIENCE not in (
        claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    )
    headers = {"authorization": f"Bearer {token}"}
    r = await api.client.get(f"/api/v2/users/{api.creds.user_id}", headers=headers)
    mgmt_error(r, 401)
    r = await api.client.get("/api/v2/guardian/factors", headers=headers)
    mgmt_error(r, 401)
    # Nor may the ID token be used.
    r = await api.client.get(
        f"/api/v2/users/{api.creds.user_id}", headers={"authorization": f"Bearer {id_token}"}
    )
    mgmt_error(r, 401)


async def test_client_credentials_errors(api: Api) -> None:
    creds = api.creds
    base = {
        "grant_type": "client_credentials",
        "client_id": creds.management_client_id,
        "client_secret": creds.management_client_secret,
    }
    r = await api.client.post("/oauth/token", json=base)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    r = await api.client.post("/oauth/token", json={**base, "audience": "https://x.example/"})
    assert r.status_code == 403 and r.json()["error"] == "access_denied", r.text
    r = await api.client.post(
        "/oauth/token", json={**base, "audience": MGMT_AUDIENCE, "client_secret": "nope"}
    )
    assert r.status_code == 401 and r.json()["error"] == "access_denied", r.text
    # Scopes outside the grant are dropped, not granted.
    r = await api.client.post(
        "/oauth/token",
        json={**base, "audience": MGMT_AUDIENCE, "scope": "read:users root:everything"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read:users"


# --- never a 500 --------------------------------------------------------------------------------


async def test_nul_bytes_in_management_input_never_500(lenient: Api) -> None:
    api = lenient
    user_id = await api.create_user()
    failures = []
    for method, path, kwargs in (
        ("GET", "/users/auth0%7C%00", {}),
        ("GET", "/users/%00/authentication-methods", {}),
        ("PATCH", f"/users/{user_id}", {"json": {"name": "a\x00b"}}),
        ("PATCH", f"/users/{user_id}", {"json": {"email": "a\x00b@example.com"}}),
        ("POST", "/users", {"json": new_user("z\x00@example.com")}),
        ("POST", "/users", {"json": new_user("y@example.com", name="\x00")}),
        ("POST", "/users", {"json": new_user("w@example.com", user_metadata={"k": "\x00"})}),
        ("GET", "/sandbox/messages", {"params": {"recipient": "\x00"}}),
        ("PUT", "/guardian/factors/%00", {"json": {"enabled": False}}),
    ):
        r = await api.mgmt(method, path, **kwargs)
        if r.status_code >= 500:
            failures.append(f"{method} {path} {kwargs!r} -> {r.status_code}")
        elif r.status_code >= 400:
            mgmt_error(r, r.status_code)
    assert not failures, "\n".join(failures)
