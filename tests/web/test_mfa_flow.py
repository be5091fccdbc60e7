"""The phone MFA flow end to end over the Auth0 wire, on SQLite and PostgreSQL."""

from __future__ import annotations

import jwt

from tests.conftest import Api


async def test_enroll_challenge_and_recover(api: Api) -> None:
    await api.enable_mfa()
    user_id = await api.create_user()
    token = await api.mfa_token()

    r = await api.associate(token, "+14155550123")
    assert r.status_code == 200, r.text
    enrollment = r.json()
    assert enrollment["oob_channel"] == "sms" and enrollment["binding_method"] == "prompt"
    [recovery] = enrollment["recovery_codes"]
    assert (len(recovery) == 24 and recovery.isalnum() and recovery.isupper()) or recovery.isdigit()

    [message] = await api.inbox()
    assert message["recipient"] == "+14155550123" and message["channel"] == "sms"
    assert message["code"] in message["text"] and len(message["code"]) == 6

    r = await api.oob_grant(token, enrollment["oob_code"], message["code"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile"
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["sub"] == user_id and claims["amr"] == ["mfa"]

    # Second login: challenge the enrolled phone.
    token = await api.mfa_token()
    r = await api.client.get("/mfa/authenticators", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200
    oob = [a for a in r.json() if a["authenticator_type"] == "oob"]
    assert oob[0]["name"] == "XXXXXXXX0123" and oob[0]["active"] is True
    r = await api.challenge(token, authenticator_id=oob[0]["id"])
    assert r.status_code == 200, r.text
    r = await api.oob_grant(token, r.json()["oob_code"], await api.last_code())
    assert r.status_code == 200, r.text

    # Third login: the recovery code works once and is replaced.
    token = await api.mfa_token()
    r = await api.recovery_grant(token, recovery)
    assert r.status_code == 200, r.text
    fresh = r.json()["recovery_code"]
    assert fresh != recovery and len(fresh) == 24
    r = await api.recovery_grant(token, recovery)
    assert r.status_code == 403 and r.json()["error"] == "invalid_grant"
    r = await api.recovery_grant(token, fresh)
    assert r.status_code == 200, r.text


async def test_jwks_verifies_issued_tokens(api: Api) -> None:
    r = await api.login("demo@example.com", api.creds.password, scope="openid")
    assert r.status_code == 200, r.text
    jwks = (await api.client.get("/.well-known/jwks.json")).json()
    signing = jwt.PyJWK(jwks["keys"][0])
    header = jwt.get_unverified_header(r.json()["access_token"])
    assert header["kid"] == signing.key_id and header["alg"] == "RS256"
    claims = jwt.decode(
        r.json()["access_token"],
        signing.key,
        algorithms=["RS256"],
        audience="http://phonegate.test/userinfo",
    )
    assert claims["iss"] == "http://phonegate.test/"
    conf = (await api.client.get("/.well-known/openid-configuration")).json()
    assert conf["jwks_uri"] == "http://phonegate.test/.well-known/jwks.json"
