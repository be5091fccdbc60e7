"""Transport conventions of the Authentication API (wire reference 1.1): JSON and form
bodies, JSON ``null`` as absent, content types, body size, client_secret_basic, 404/405
shapes, and never a 500 whatever the body."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api
from tests.shapes import assert_error as auth_error
from tests.shapes import mgmt_error as management_error

GRANT_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_REALM = "http://auth0.com/oauth/grant-type/password-realm"
PHONE = "+14155550123"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
MGMT_AUDIENCE = "https://phonegate.test/api/v2/"
AUTH_PATHS = ("/oauth/token", "/mfa/associate", "/mfa/challenge")
LIMIT = 64 * 1024


def form(data: dict[str, Any] | list[tuple[str, str]]) -> bytes:
    return urlencode(data).encode()


# --- JSON and form bodies --------------------------------------------------------------------


async def test_form_and_json_bodies_drive_the_whole_flow(api: Api) -> None:
    await api.enable_mfa()
    await api.create_user()
    login = {
        "grant_type": "password",
        "username": "alice@example.com",
        "password": "correct horse 1",
        "scope": "openid",
        **api.app_auth,
    }
    # Form login → mfa_required.
    r = await api.client.post("/oauth/token", content=form(login), headers=FORM)
    assert r.status_code == 403 and r.json()["error"] == "mfa_required", r.text
    token = r.json()["mfa_token"]
    # Form associate (lists as single values, as a form carries them).
    r = await api.client.post(
        "/mfa/associate",
        content=form(
            {
                **api.app_auth,
                "authenticator_types": "oob",
                "oob_channels": "sms",
                "phone_number": PHONE,
            }
        ),
        headers={**FORM, "authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["oob_channel"] == "sms"
    oob_code = r.json()["oob_code"]
    # Form mfa-oob grant.
    oob = {"grant_type": GRANT_OOB, **api.app_auth, "mfa_token": token, "oob_code": oob_code}
    r = await api.client.post(
        "/oauth/token",
        content=form({**oob, "binding_code": await api.last_code()}),
        headers={**FORM, "content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"

    # Form challenge, then a JSON grant with a charset parameter and JSON nulls.
    token = await api.mfa_token()
    r = await api.client.post(
        "/mfa/challenge",
        content=form({**api.app_auth, "mfa_token": token, "challenge_type": "oob"}),
        headers=FORM,
    )
    assert r.status_code == 200, r.text
    r = await api.client.post(
        "/oauth/token",
        content=json.dumps(
            {
                "grant_type": GRANT_OOB,
                **api.app_auth,
                "mfa_token": token,
                "oob_code": r.json()["oob_code"],
                "binding_code": await api.last_code(),
                "audience": None,
                "scope": None,
            }
        ),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    # JSON challenge with null selectors: null means "not given".
    token = await api.mfa_token()
    r = await api.challenge(token, authenticator_id=None, oob_channel=None)
    assert r.status_code == 200, r.text
    assert r.json()["challenge_type"] == "oob"


async def test_json_null_is_treated_as_absent(api: Api) -> None:
    # What auth0-python's GetToken.login sends for unset arguments.
    r = await api.client.post(
        "/oauth/token",
        json={
            "grant_type": "password",
            "username": api.creds.email,
            "password": api.creds.password,
            **api.app_auth,
            "realm": None,
            "audience": None,
            "scope": None,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer" and r.json()["access_token"]
    # password-realm with the realm given works; with realm null it is missing.
    realm = {
        "grant_type": GRANT_REALM,
        "username": api.creds.email,
        "password": api.creds.password,
        **api.app_auth,
        "audience": None,
        "scope": None,
    }
    r = await api.client.post(
        "/oauth/token", json={**realm, "realm": "Username-Password-Authentication"}
    )
    assert r.status_code == 200, r.text
    r = await api.client.post("/oauth/token", json={**realm, "realm": None})
    body = auth_error(r, 400, "invalid_request")
    assert body["error_description"] == "Missing required parameter: realm"
    # A null secret is no secret: a confidential client must then be refused.
    r = await api.client.post(
        "/oauth/token",
        json={
            "grant_type": "password",
            "username": api.creds.email,
            "password": api.creds.password,
            "client_id": api.creds.client_id,
            "client_secret": None,
        },
    )
    auth_error(r, 401, "access_denied")


# --- content types and malformed bodies --------------------------------------------------------


async def test_wrong_content_type_is_415_and_non_object_body_is_400(api: Api) -> None:
    payload = json.dumps({"grant_type": "password", **api.app_auth}).encode()
    for path in AUTH_PATHS:
        for ctype in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
            r = await api.client.post(path, content=payload, headers={"content-type": ctype})
            auth_error(r, 415, "invalid_request")
    r = await api.mgmt(
        "POST", "/users", content=b"<user/>", headers={"content-type": "application/xml"}
    )
    management_error(r, 415)

    # Bodies that are not a JSON object (or not JSON at all).
    for path in AUTH_PATHS:
        for raw in (
            b"[]",
            b'[{"grant_type": "password"}]',
            b'"password"',
            b"42",
            b"{",
            b'{"grant_type": }',
            b"grant_type=password",
            b'{"grant_type": "\xff\xfe"}',
        ):
            r = await api.client.post(path, content=raw, headers=JSON)
            auth_error(r, 400, "invalid_request")
    r = await api.mgmt("POST", "/users", content=b"[1, 2]", headers=JSON)
    management_error(r, 400)
    r = await api.client.post("/oauth/token", content=b"a=%ff%fe", headers=FORM)
    assert r.status_code == 400, r.text


async def test_deeply_nested_json_is_400(lenient: Api) -> None:
    for raw in (b"[" * 50_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        assert len(raw) < LIMIT
        for path in AUTH_PATHS:
            r = await lenient.client.post(path, content=raw, headers=JSON)
            assert r.status_code == 400, (path, r.status_code, r.text[:200])
            assert r.json()["error"] == "invalid_request"


async def test_oversized_body_is_413(api: Api) -> None:
    big = json.dumps({"grant_type": "password", "pad": "x" * (LIMIT + 10)}).encode()
    for path in AUTH_PATHS:
        # With Content-Length.
        r = await api.client.post(path, content=big, headers=JSON)
        assert "content-length" in r.request.headers
        auth_error(r, 413, "invalid_request")
        # Streamed (chunked, no Content-Length), and the server stops reading early.
        sent = 0

        async def stream() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'{"pad": "'
            for _ in range(10 * 1024):  # up to 10 MiB, if anyone kept reading
                sent += 1024
                yield b"x" * 1024
            yield b'"}'

        r = await api.client.post(path, content=stream(), headers=JSON)
        assert "content-length" not in r.request.headers
        assert r.request.headers.get("transfer-encoding") == "chunked"
        auth_error(r, 413, "invalid_request")
        assert sent <= LIMIT + 2 * 1024, sent
    r = await api.mgmt("POST", "/users", content=big, headers=JSON)
    management_error(r, 413)
    # Just under the limit is read and judged on its content.
    fits = json.dumps({"grant_type": "nope", "pad": "x" * (LIMIT - 100)}).encode()
    assert len(fits) <= LIMIT
    r = await api.client.post("/oauth/token", content=fits, headers=JSON)
    auth_error(r, 403, "unsupported_grant_type")


async def test_form_with_repeated_keys_is_400(api: Api) -> None:
    """RFC 6749 3.2: a token request parameter must not appear more than once."""
    login = [
        ("username", api.creds.email),
        ("password", api.creds.password),
        ("client_id", api.creds.client_id),
        ("client_secret", api.creds.client_secret),
    ]
    for repeated in (
        [("grant_type", "password"), ("grant_type", "password")],
        [("grant_type", "password"), ("client_id", "someone-else")],
        [("grant_type", "password"), ("password", "another one")],
    ):
        r = await api.client.post("/oauth/token", content=form(login + repeated), headers=FORM)
        auth_error(r, 400, "invalid_request")
    # Control: the same form without repetition logs in.
    r = await api.client.post(
        "/oauth/token", content=form([*login, ("grant_type", "password")]), headers=FORM
    )
    assert r.status_code == 200, r.text


# --- client_secret_basic ---------------------------------------------------------------------


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_client_secret_basic(api: Api) -> None:
    creds = api.creds
    login = {"grant_type": "password", "username": creds.email, "password": creds.password}
    r = await api.client.post(
        "/oauth/token", json=login, headers=basic(creds.client_id, creds.client_secret)
    )
    assert r.status_code == 200, r.text
    # Form body too, and the management client's client_credentials grant.
    r = await api.client.post(
        "/oauth/token",
        content=form({"grant_type": "client_credentials", "audience": MGMT_AUDIENCE}),
        headers={
            **FORM,
            **basic(creds.management_client_id, creds.management_client_secret),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"
    # Wrong secret, unknown client, undecodable header.
    for headers in (
        basic(creds.client_id, creds.client_secret + "x"),
        basic("nobody", "x"),
        {"authorization": "Basic !!!not-base64!!!"},
    ):
        r = await api.client.post("/oauth/token", json=login, headers=headers)
        auth_error(r, 401, "access_denied")
    # RFC 6749 5.2: a client that authenticated with the Authorization header gets a 401
    # whose WWW-Authenticate names the scheme it used.
    r = await api.client.post("/oauth/token", json=login, headers=basic(creds.client_id, "x"))
    auth_error(r, 401, "access_denied")
    assert r.headers.get("www-authenticate", "").lower().startswith("basic"), r.headers


# --- 404 / 405 -------------------------------------------------------------------------------


async def test_unknown_path_is_404_and_wrong_method_is_405_in_the_right_shape(api: Api) -> None:
    for method, path in (
        ("POST", "/oauth/nope"),
        ("GET", "/oauth/token/extra"),
        ("POST", "/mfa/nope"),
        ("GET", "/nowhere"),
    ):
        r = await api.client.request(method, path)
        body = auth_error(r, 404, "not_found")
        assert "statusCode" not in body
    for method, path in (("GET", "/nope"), ("POST", "/guardian/nope"), ("GET", "/users/x/nope")):
        r = await api.mgmt(method, path)
        body = management_error(r, 404)
        assert body["error"] == "Not Found"
    # Even without a token, an unknown management path answers in the management shape.
    r = await api.client.get("/api/v2/nope")
    assert r.status_code in (401, 404), r.text
    management_error(r, r.status_code)

    # Known path, wrong method.
    for method, path in (
        ("GET", "/oauth/token"),
        ("PUT", "/oauth/token"),
        ("GET", "/mfa/associate"),
        ("GET", "/mfa/challenge"),
        ("POST", "/mfa/authenticators"),
    ):
        r = await api.client.request(method, path)
        auth_error(r, 405, "method_not_allowed")
    for method, path in (("DELETE", "/guardian/policies"), ("POST", "/guardian/factors")):
        r = await api.mgmt(method, path)
        body = management_error(r, 405)
        assert body["error"] == "Method Not Allowed"
    # RFC 9110 15.5.6: a 405 response carries an Allow header.
    r = await api.client.get("/oauth/token")
    assert r.status_code == 405, r.text
    assert "POST" in r.headers.get("allow", ""), r.headers
    r = await api.mgmt("DELETE", "/guardian/policies")
    assert r.status_code == 405, r.text
    assert {"GET", "PUT"} <= {m.strip() for m in r.headers.get("allow", "").split(",")}, r.headers


# --- never a 500 ------------------------------------------------------------------------------


def escaped(body: dict[str, Any]) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates survive the trip."""
    return json.dumps(body, ensure_ascii=True).encode()


async def test_nul_and_lone_surrogates_never_500(lenient: Api) -> None:
    api = lenient
    await api.enable_mfa()
    await api.create_user()
    token = await api.mfa_token()
    r = await api.associate(token, PHONE)
    assert r.status_code == 200, r.text
    oob_code = r.json()["oob_code"]
    creds = api.creds
    login = {"grant_type": "password", "username": creds.email, "password": creds.password}
    oob = {"grant_type": GRANT_OOB, **api.app_auth, "mfa_token": token, "oob_code": oob_code}
    weird = ("\x00", "a\x00b", "\ud800", "x\udfff")
    cases: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for w in weird:
        cases += [
            ("/oauth/token", {}, {**login, "client_id": w, "client_secret": "x"}),
            ("/oauth/token", {}, {**login, "client_id": creds.client_id, "client_secret": w}),
            ("/oauth/token", {}, {**login, **api.app_auth, "username": w}),
            ("/oauth/token", {}, {**login, **api.app_auth, "password": w}),
            ("/oauth/token", {}, {**login, **api.app_auth, "grant_type": w}),
            ("/oauth/token", {}, {**login, **api.app_auth, "realm": w}),
            ("/oauth/token", {}, {**login, **api.app_auth, "scope": w, "audience": w}),
            ("/oauth/token", {}, {**oob, "oob_code": w, "binding_code": "123456"}),
            ("/oauth/token", {}, {**oob, "binding_code": w}),
            ("/oauth/token", {}, {**oob, "mfa_token": "pgmfa." + w, "binding_code": "1"}),
            (
                "/mfa/challenge",
                {},
                {**api.app_auth, "mfa_token": token, "authenticator_id": f"sms|{w}"},
            ),
            ("/mfa/challenge", {}, {"client_id": w, "mfa_token": token}),
            (
                "/mfa/associate",
                {"authorization": f"Bearer {token}"},
                {
                    **api.app_auth,
                    "authenticator_types": ["oob"],
                    "oob_channels": [w],
                    "phone_number": "+1415555" + w,
                },
            ),
        ]
    failures = []
    for path, headers, body in cases:
        r = await api.client.post(path, content=escaped(body), headers={**JSON, **headers})
        if r.status_code >= 500:
            shown = {k: v for k, v in body.items() if k not in ("client_secret", "mfa_token")}
            failures.append(f"{path} {shown!r} -> {r.status_code}")
    # NUL smuggled in through HTTP Basic (raw, and percent-encoded as RFC 6749 2.3.1 says).
    for client_id in ("a\x00b", "%00"):
        for secret in ("x", "%00"):
            r = await api.client.post("/oauth/token", json=login, headers=basic(client_id, secret))
            if r.status_code >= 500:
                failures.append(f"/oauth/token Basic {client_id!r}:{secret!r} -> {r.status_code}")
    # The same through a form body (NUL is %00 there).
    for field in ("client_id", "username", "password"):
        data = {**login, **api.app_auth, field: "a\x00b"}
        r = await api.client.post("/oauth/token", content=form(data), headers=FORM)
        if r.status_code >= 500:
            failures.append(f"/oauth/token (form) {field}='a\\x00b' -> {r.status_code}")
    assert not failures, "\n".join(failures)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = (
    "grant_type",
    "client_id",
    "client_secret",
    "username",
    "password",
    "realm",
    "audience",
    "scope",
    "mfa_token",
    "oob_code",
    "binding_code",
    "recovery_code",
    "authenticator_types",
    "oob_channels",
    "oob_channel",
    "phone_number",
    "challenge_type",
    "authenticator_id",
)


@pytest.fixture
async def fuzz_values(lenient: Api) -> dict[str, list[Any]]:
    """Plausible values per field (real credentials, a live mfa_token, an enrolled phone),
    so random bodies get past the first checks and into the grants."""
    api = lenient
    await api.enable_mfa(message_types=["sms", "voice"])
    await api.create_user()
    enrolled = await api.enrolled_user("bob@example.com", "+14155550199")
    token = await api.mfa_token()
    listed = await api.client.get(
        "/mfa/authenticators", headers={"authorization": f"Bearer {token}"}
    )
    creds = api.creds
    return {
        "grant_type": [
            "password",
            GRANT_REALM,
            GRANT_OOB,
            "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            "client_credentials",
        ],
        "client_id": [creds.client_id, creds.management_client_id],
        "client_secret": [creds.client_secret, creds.management_client_secret],
        "username": ["alice@example.com", "bob@example.com", creds.email],
        "password": ["correct horse 1", creds.password],
        "realm": ["Username-Password-Authentication"],
        "audience": [MGMT_AUDIENCE, "http://phonegate.test/mfa/"],
        "scope": ["openid profile", "enroll read:authenticators"],
        "mfa_token": [token, await api.mfa_token("bob@example.com")],
        "recovery_code": [enrolled["recovery_code"]],
        "authenticator_types": [["oob"], "oob"],
        "oob_channels": [["sms"], ["voice"], "sms"],
        "oob_channel": ["sms", "voice"],
        "phone_number": [PHONE, "+442071838750"],
        "challenge_type": ["oob", "oob otp"],
        "authenticator_id": [a["id"] for a in listed.json()],
    }


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_bodies_never_500(
    lenient: Api, fuzz_values: dict[str, list[Any]], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(AUTH_PATHS), label="path")
    field_value = st.sampled_from(FIELDS).flatmap(
        lambda f: st.tuples(
            st.just(f),
            st.sampled_from(fuzz_values.get(f) or [None]) | JSON_VALUES
            if f in fuzz_values
            else JSON_VALUES,
        )
    )
    obj = data.draw(st.lists(field_value, max_size=8).map(dict), label="object")
    kind = data.draw(st.sampled_from(["json", "form", "any-json", "text"]), label="kind")
    headers: dict[str, str] = {}
    auth = data.draw(
        st.sampled_from(["none", "mfa_token", "garbage", "basic"]), label="authorization"
    )
    if auth == "mfa_token":
        headers["authorization"] = f"Bearer {fuzz_values['mfa_token'][0]}"
    elif auth == "garbage":
        headers["authorization"] = "Bearer " + data.draw(
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
        )
    elif auth == "basic":
        headers["authorization"] = "Basic " + data.draw(
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
        )
    content: bytes
    if kind == "json":
        content, headers["content-type"] = json.dumps(obj).encode(), "application/json"
    elif kind == "form":
        pairs = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in obj.items()]
        content, headers["content-type"] = urlencode(pairs).encode(), FORM["content-type"]
    elif kind == "any-json":
        value = data.draw(JSON_VALUES, label="value")
        content, headers["content-type"] = json.dumps(value).encode(), "application/json"
    else:
        text = data.draw(st.text(max_size=200), label="text")
        ctype = data.draw(
            st.sampled_from(["application/json", FORM["content-type"], "text/plain"]),
            label="content-type",
        )
        content, headers["content-type"] = text.encode(), ctype
    r = await lenient.client.post(path, content=content, headers=headers)
    assert r.status_code < 500, (path, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, dict)
    if r.status_code >= 400:
        assert isinstance(body.get("error"), str) and isinstance(
            body.get("error_description"), str
        ), body
