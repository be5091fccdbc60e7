"""The Management API's OpenAPI document (``GET /api/v2/openapi.json``) against the server:
a session through every documented operation, each request and response validated with
openapi-core against the document the server serves; the error cases; the scopes each route
checks; and the document's coverage of the app's routes, both ways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from phonegate.container import Container
from phonegate.domain.models import DATABASE_CONNECTION
from phonegate.settings import Settings
from phonegate.web.app import create_app
from phonegate.web.management import openapi
from tests.conftest import BASE_URL, Api, make_settings
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.web import action_targets

DOCUMENT = "/api/v2/openapi.json"
EMAIL, PASSWORD = "alice@example.com", "correct horse 1"
PHONE = "+14155550123"
FROM = "+15005550006"  # Twilio's magic "valid sender"
REFUSED_TO = "+15005550001"  # Twilio's magic "invalid number" (21211)
METHODS = ("get", "put", "post", "patch", "delete")
UNSET: Any = object()


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: this is about shapes, not storage."""
    target = tmp_path / "phonegate.db"
    target.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The Twilio fake listens on 127.0.0.1, which the outbound guard refuses by default.
    return make_settings(database_url, tmp_path, outbound_allow_private=True)


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake
        assert fake.spec_errors == []


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(DOCUMENT)
    assert r.status_code == 200, r.text
    served: dict[str, Any] = r.json()
    return served


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template without /api/v2, operation) of every documented operation."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path.removeprefix("/api/v2"), item[method]


def as_mock(r: httpx.Response) -> tuple[MockRequest, MockResponse]:
    request = r.request
    mock_request = MockRequest(
        host_url=BASE_URL,
        method=request.method,
        path=request.url.path,
        args=list(request.url.params.multi_items()),
        headers=dict(request.headers),
        data=request.content,
        content_type=request.headers.get("content-type", "application/json"),
    )
    mock_response = MockResponse(
        data=r.content,
        status_code=r.status_code,
        headers=dict(r.headers),
        content_type=r.headers.get("content-type", "application/json"),
    )
    return mock_request, mock_response


class Checked:
    """Management API calls whose request and response are validated against the document;
    remembers which operations answered with success."""

    def __init__(self, api: Api, document: dict[str, Any]) -> None:
        self.api = api
        # The document itself is validated once, by the last test (it takes seconds).
        self.spec = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
        self.succeeded: set[tuple[str, str]] = set()
        self._token: str | None = None

    async def __call__(
        self,
        method: str,
        template: str,
        expect: int,
        *,
        json: Any = UNSET,
        params: Any = None,
        token: str | None = UNSET,
        valid_request: bool = True,
        content: bytes | None = None,
        content_type: str | None = None,
        **path: str,
    ) -> httpx.Response:
        if token is UNSET:
            self._token = self._token or await self.api.management_token()
            token = self._token
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        if content_type is not None:
            headers["content-type"] = content_type
        url = "/api/v2" + template.format(**{k: quote(v, safe="") for k, v in path.items()})
        body = {} if json is UNSET else {"json": json}
        r = await self.api.client.request(
            method, url, params=params, headers=headers, content=content, **body
        )
        assert r.status_code == expect, (method, url, r.text)
        mock_request, mock_response = as_mock(r)
        if valid_request:
            self.spec.validate_request(mock_request)
        else:
            with pytest.raises(OpenAPIError):
                self.spec.validate_request(mock_request)
        self.spec.validate_response(mock_request, mock_response)
        if r.is_success:
            self.succeeded.add((method, template))
        return r


@pytest.fixture
def checked(api: Api, document: dict[str, Any]) -> Checked:
    return Checked(api, document)


# -- the session ---------------------------------------------------------------------------


async def guardian(s: Checked, twilio: TwilioFake) -> None:
    await s("GET", "/guardian/factors", 200)
    for name in ("sms", "recovery-code"):
        await s("PUT", "/guardian/factors/{name}", 200, name=name, json={"enabled": True})
    await s("GET", "/guardian/factors/phone/message-types", 200)
    await s("PUT", "/guardian/factors/phone/message-types", 200, json={"message_types": ["sms"]})
    for factor in ("phone", "sms"):  # sms: Auth0's legacy aliases
        base = f"/guardian/factors/{factor}"
        await s("GET", f"{base}/selected-provider", 200)
        await s("PUT", f"{base}/selected-provider", 200, json={"provider": "auth0"})
        await s("GET", f"{base}/providers/twilio", 200)
        twilio_settings = {
            "sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from": FROM,
            "base_url": twilio.url,
        }
        r = await s("PUT", f"{base}/providers/twilio", 200, json=twilio_settings)
        assert r.json()["auth_token"] is None and r.json()["auth_token_set"] is True
        templates = (await s("GET", f"{base}/templates", 200)).json()
        await s("PUT", f"{base}/templates", 200, json=templates)
        await s("GET", f"{base}/settings", 200)
        await s("PUT", f"{base}/settings", 200, json={"otp_length": 6})
    await s("GET", "/guardian/policies", 200)
    await s("PUT", "/guardian/policies", 200, json=["all-applications"])


async def enrolled_user(s: Checked) -> str:
    body = {"connection": DATABASE_CONNECTION, "email": EMAIL, "password": PASSWORD}
    user_id: str = (await s("POST", "/users", 201, json=body)).json()["user_id"]
    await s("GET", "/users/{user_id}", 200, user_id=user_id)
    patch = {"name": "Alice", "user_metadata": {"plan": "pro"}, "app_metadata": {"tier": 1}}
    await s("PATCH", "/users/{user_id}", 200, user_id=user_id, json=patch)
    mfa_token = await s.api.mfa_token(EMAIL, PASSWORD)
    r = await s.api.associate(mfa_token, PHONE)
    assert r.status_code == 200, r.text
    inbox = (await s("GET", "/sandbox/messages", 200, params={"recipient": PHONE})).json()
    r = await s.api.oob_grant(mfa_token, r.json()["oob_code"], inbox[0]["code"])
    assert r.status_code == 200, r.text
    user = (await s("GET", "/users/{user_id}", 200, user_id=user_id)).json()
    assert user["multifactor"] == ["guardian"], user
    return user_id


async def authentication_methods(s: Checked, user_id: str) -> None:
    path = "/users/{user_id}/authentication-methods"
    methods = (await s("GET", path, 200, user_id=user_id)).json()
    assert {m["type"] for m in methods} == {"phone", "recovery-code"}, methods
    page = await s("GET", path, 200, user_id=user_id, params={"include_totals": "true"})
    assert page.json()["total"] == 2
    one = path + "/{method_id}"
    for method in methods:
        await s("GET", one, 200, user_id=user_id, method_id=method["id"])
    await s("GET", "/users/{user_id}/enrollments", 200, user_id=user_id)
    r = await s("POST", "/users/{user_id}/recovery-code-regeneration", 200, user_id=user_id)
    assert r.json()["recovery_code"]
    methods = (await s("GET", path, 200, user_id=user_id)).json()
    recovery = next(m["id"] for m in methods if m["type"] == "recovery-code")
    await s("DELETE", one, 204, user_id=user_id, method_id=recovery)
    await s("DELETE", path, 204, user_id=user_id)
    await s("DELETE", "/users/{user_id}/authenticators", 204, user_id=user_id)


async def phone_messages(s: Checked) -> None:
    sent = (await s("GET", "/phone/messages", 200, params={"limit": "10"})).json()
    assert sent, "the enrollment's code went out through the outbox"
    detail = await s("GET", "/phone/messages/{message_id}", 200, message_id=sent[0]["id"])
    assert detail.json()["attempts"], detail.text


def twilio_provider(fake: TwilioFake) -> dict[str, Any]:
    return {
        "name": "twilio",
        "credentials": {"auth_token": AUTH_TOKEN},
        "configuration": {
            "sid": ACCOUNT_SID,
            "default_from": FROM,
            "delivery_methods": ["text", "voice"],
            "base_url": fake.url,
        },
    }


async def branding(s: Checked, twilio: TwilioFake) -> None:
    providers = "/branding/phone/providers"
    provider = (await s("POST", providers, 201, json=twilio_provider(twilio))).json()
    await s("POST", providers, 409, json=twilio_provider(twilio))
    await s("GET", providers, 200, params={"disabled": "false"})
    one = providers + "/{provider_id}"
    await s("GET", one, 200, provider_id=provider["id"])
    disabled = await s("PATCH", one, 200, provider_id=provider["id"], json={"disabled": True})
    assert disabled.json()["warnings"], disabled.text
    await s("PATCH", one, 200, provider_id=provider["id"], json={"disabled": False})
    send = one + "/try"
    r = await s("POST", send, 202, provider_id=provider["id"], json={"to": PHONE})
    assert r.json()["provider"]["ok"] is True
    voice = {"to": PHONE.removeprefix("+"), "delivery_method": "voice"}
    await s("POST", send, 202, provider_id=provider["id"], json=voice)
    refused = await s("POST", send, 400, provider_id=provider["id"], json={"to": REFUSED_TO})
    assert refused.json()["errorCode"] == "provider_rejected", refused.text
    twilio.fail_next(503)
    await s("POST", send, 503, provider_id=provider["id"], json={"to": PHONE})

    templates = "/branding/phone/templates"
    listed = (await s("GET", templates, 200)).json()["templates"]
    assert all("id" not in t for t in listed), "built-in defaults have no id"
    body = {
        "type": "otp_verify",
        "content": {"body": {"text": "{{ code | escape }} is your Acme code"}},
        "translations": {"fr": {"text": "{{ code | escape }} est votre code Acme"}},
    }
    template = (await s("POST", templates, 201, json=body)).json()
    await s("POST", templates, 409, json=body)
    one = templates + "/{template_id}"
    await s("GET", one, 200, template_id=template["id"])
    voice_body = {"content": {"body": {"voice": "Your Acme code is {{ pause }} {{ code }}"}}}
    await s("PATCH", one, 200, template_id=template["id"], json=voice_body)
    r = await s("POST", one + "/try", 202, template_id=template["id"], json={"to": PHONE})
    assert r.json()["analysis"]["segments"] == 1, r.text
    await s("PATCH", one + "/reset", 200, template_id=template["id"], json={})
    await s("DELETE", one, 204, template_id=template["id"])
    await s("GET", one, 404, template_id=template["id"])
    await s("DELETE", providers + "/{provider_id}", 204, provider_id=provider["id"])


async def fallbacks(s: Checked, twilio: TwilioFake) -> None:
    providers = "/phone/providers"
    created = await s("POST", providers, 201, json={**twilio_provider(twilio), "position": 1})
    provider_id = created.json()["id"]
    await s("GET", providers, 200)
    one = providers + "/{provider_id}"
    await s("GET", one, 200, provider_id=provider_id)
    await s("PATCH", one, 200, provider_id=provider_id, json={"position": 2})
    await s("POST", one + "/try", 202, provider_id=provider_id, json={"to": PHONE})
    chain = (await s("GET", "/phone/delivery-chain", 200)).json()
    assert [step["provider"] for step in chain["sms"]["steps"]] == ["auth0", "twilio (fallback 1)"]
    await s("DELETE", one, 204, provider_id=provider_id)


async def actions(s: Checked) -> None:
    await s("GET", "/actions/triggers", 200)
    body = {
        "name": "sms-sender",
        "supported_triggers": [{"id": "send-phone-message", "version": "v2"}],
        "code": "tests.web.action_targets:record",
        "secrets": [{"name": "API_KEY", "value": "not-a-real-key"}],
    }
    action_id = (await s("POST", "/actions/actions", 201, json=body)).json()["id"]
    await s("POST", "/actions/actions", 409, json=body)
    one = "/actions/actions/{action_id}"
    await s("GET", one, 200, action_id=action_id)
    keep = {"secrets": [{"name": "API_KEY"}], "name": "sms-sender-2"}
    await s("PATCH", one, 200, action_id=action_id, json=keep)
    await s("POST", one + "/deploy", 200, action_id=action_id)
    await s("GET", "/actions/actions", 200, params={"triggerId": "send-phone-message"})
    bindings = "/actions/triggers/{trigger_id}/bindings"
    bind = {"bindings": [{"ref": {"type": "action_id", "value": action_id}}]}
    await s("PATCH", bindings, 200, trigger_id="send-phone-message", json=bind)
    await s("GET", bindings, 200, trigger_id="send-phone-message")
    run = await s("POST", one + "/test", 200, action_id=action_id, json={})
    assert run.json()["payload"]["status"] == "sent", run.text
    await s("GET", one, 200, action_id=action_id)  # now with deployed_version
    await s("DELETE", one, 409, action_id=action_id)
    await s("DELETE", one, 204, action_id=action_id, params={"force": "true"})
    action_targets.calls.clear()


async def connections(s: Checked) -> None:
    await s("GET", "/connections", 200)
    body = {
        "name": "sms",
        "strategy": "sms",
        "options": {"disable_signup": False, "totp": {"time_step": 300, "length": 6}},
    }
    connection_id = (await s("POST", "/connections", 201, json=body)).json()["id"]
    await s("POST", "/connections", 409, json=body)
    await s("GET", "/connections", 200, params={"include_totals": "true", "strategy": "sms"})
    page = await s("GET", "/connections", 200, params={"take": "1"})
    assert "next" in page.json(), page.text
    one = "/connections/{connection_id}"
    await s("GET", one, 200, connection_id=connection_id)
    patch = {"options": {"brute_force_protection": False}}
    await s("PATCH", one, 200, connection_id=connection_id, json=patch)
    await s("DELETE", one, 202, connection_id=connection_id)
    await s("GET", one, 404, connection_id=connection_id)


async def logs(s: Checked, user_id: str) -> None:
    entries = (await s("GET", "/logs", 200, params={"q": "type:sapi"})).json()
    assert entries, "every write above logged a sapi event"
    await s("GET", "/logs", 200, params={"include_totals": "true", "per_page": "5"})
    fields = await s("GET", "/logs", 200, params={"fields": "type,date", "include_fields": "true"})
    assert all(set(e) <= {"type", "date"} for e in fields.json()), fields.text
    page = await s("GET", "/logs", 200, params={"from": entries[-1]["log_id"], "take": "2"})
    assert 'rel="next"' in page.headers["link"]
    await s("GET", "/logs/{log_id}", 200, log_id=entries[0]["log_id"])
    await s("GET", "/users/{user_id}/logs", 200, user_id=user_id)
    await s("GET", "/users/{user_id}/logs", 200, user_id=user_id, params={"include_totals": "true"})


async def log_streams(s: Checked) -> None:
    body = {
        "name": "siem",
        "type": "http",
        "sink": {
            "httpEndpoint": "https://93.184.216.34/collector",
            "httpAuthorization": "Bearer not-a-real-token",
            "httpCustomHeaders": [{"header": "X-Index", "value": "auth"}],
        },
        "filters": [{"type": "category", "name": "guardian"}],
    }
    created = (await s("POST", "/log-streams", 201, json=body)).json()
    assert created["sink"]["signingSecret"], created
    await s("GET", "/log-streams", 200)
    one = "/log-streams/{stream_id}"
    await s("GET", one, 200, stream_id=created["id"])
    patch = {"status": "paused", "rotateSigningSecret": True}
    await s("PATCH", one, 200, stream_id=created["id"], json=patch)
    rules = [{"type": "gd_send_sms", "threshold": 100, "window_seconds": 3600}]
    await s("PUT", "/log-streams/alerts", 200, json=rules)
    await s("GET", "/log-streams/alerts", 200)
    await s("DELETE", one, 204, stream_id=created["id"])
    await s("GET", one, 404, stream_id=created["id"])


async def tenant(s: Checked) -> None:
    path = "/attack-protection/phone-limits"
    await s("GET", path, 200)
    patch = {"tenant_daily_budget": 5000, "countries": {"voice": {"deny": ["CU"]}}}
    await s("PATCH", path, 200, json=patch)
    await s("GET", "/tenants/settings", 200)
    settings = {"friendly_name": "Acme", "enabled_locales": ["fr"]}
    await s("PATCH", "/tenants/settings", 200, json=settings)
    await s("GET", "/users-by-email", 200, params={"email": EMAIL})
    preview = {"type": "otp_verify", "channel": "sms", "locale": "fr"}
    await s("POST", "/branding/phone/templates/preview", 200, json=preview)


async def test_a_session_through_every_operation_matches_the_document(
    checked: Checked, document: dict[str, Any], twilio: TwilioFake
) -> None:
    twilio.reset()
    await guardian(checked, twilio)
    user_id = await enrolled_user(checked)
    await authentication_methods(checked, user_id)
    await phone_messages(checked)
    await branding(checked, twilio)
    await fallbacks(checked, twilio)
    await actions(checked)
    await connections(checked)
    await tenant(checked)
    await log_streams(checked)
    await logs(checked, user_id)
    await checked("DELETE", "/users/{user_id}", 204, user_id=user_id)
    assert twilio.messages and twilio.calls, "the test sends reached the Twilio fake"
    untried = {(m, p) for m, p, _ in operations(document)} - checked.succeeded
    assert not untried, f"operations the session never ran successfully: {sorted(untried)}"


# -- errors --------------------------------------------------------------------------------


async def test_error_answers_match_the_document(checked: Checked) -> None:
    s = checked
    # 400: a body the schema refuses, and the server too.
    r = await s("PUT", "/guardian/factors/sms", 400, json={"enabled": "yes"}, valid_request=False)
    assert r.json()["errorCode"] == "invalid_body"
    bad_user = {"connection": DATABASE_CONNECTION, "email": EMAIL, "password": "short"}
    await s("POST", "/users", 400, json=bad_user, valid_request=False)
    await s("GET", "/phone/messages", 400, params={"limit": "0"}, valid_request=False)
    # 401: no token (the document requires one), and a token that is not ours.
    await s("GET", "/guardian/factors", 401, token=None, valid_request=False)
    await s("GET", "/guardian/factors", 401, token="not-a-jwt")
    # 403: a token without the scope.
    reader = await s.api.management_token(scope="read:users")
    r = await s("GET", "/guardian/factors", 403, token=reader)
    assert r.json()["errorCode"] == "insufficient_scope"
    # 404: unknown ids.
    await s("GET", "/users/{user_id}", 404, user_id="auth0|nobody")
    await s("GET", "/actions/actions/{action_id}", 404, action_id="nothing")
    await s("GET", "/logs/{log_id}", 404, log_id="0" * 24)
    await s("PATCH", "/log-streams/{stream_id}", 404, stream_id="lst_nothing", json={})
    await s("GET", "/phone/messages/{message_id}", 404, message_id="msg_nothing")
    await s("GET", "/branding/phone/providers/{provider_id}", 404, provider_id="pro_nothing")
    # 409: the same user twice.
    user = {"connection": DATABASE_CONNECTION, "email": EMAIL, "password": PASSWORD}
    await s("POST", "/users", 201, json=user)
    r = await s("POST", "/users", 409, json=user)
    assert r.json()["errorCode"] == "auth0_idp_error"
    # 415: a body that is neither JSON nor a form.
    await s(
        "PUT",
        "/guardian/policies",
        415,
        content=b"all-applications",
        content_type="text/plain",
        valid_request=False,
    )


async def test_a_field_the_document_does_not_list_fails_validation(
    checked: Checked,
) -> None:
    """The response models forbid extra fields, so the session test cannot pass blindly."""
    r = await checked("GET", "/guardian/factors/phone/settings", 200)
    mock_request, _ = as_mock(r)
    surprise = json.dumps({**r.json(), "surprise": True}).encode()
    with pytest.raises(OpenAPIError):
        checked.spec.validate_response(mock_request, MockResponse(surprise))
    missing = json.dumps({"otp_length": 6}).encode()
    with pytest.raises(OpenAPIError):
        checked.spec.validate_response(mock_request, MockResponse(missing))


async def test_each_operation_lists_the_scopes_its_route_checks(
    checked: Checked, document: dict[str, Any]
) -> None:
    """A token with none of the documented scopes gets 403, and the server's message names
    the scopes it checked: they must be the documented ones, in order."""
    tokens: dict[str, str] = {}
    for method, template, operation in operations(document):
        documented = [scope for req in operation["security"] for scope in req.values()]
        assert all(len(scopes) == 1 for scopes in documented), operation["security"]
        wanted = [scopes[0] for scopes in documented]
        other = "read:connections" if "read:connections" not in wanted else "read:logs"
        tokens.setdefault(other, await checked.api.management_token(scope=other))
        parameters = operation.get("parameters", [])
        names = {p["name"]: "x" for p in parameters if p["in"] == "path"}
        required = {
            p["name"]: EMAIL if p["name"] == "email" else "x"
            for p in parameters
            if p["in"] == "query" and p.get("required")
        }
        # No body is sent: the scope is checked before the body is read.
        bodiless = not operation.get("requestBody", {}).get("required", False)
        r = await checked(
            method,
            template,
            403,
            token=tokens[other],
            params=required or None,
            valid_request=bodiless,
            **names,
        )
        assert r.json()["message"].endswith("expected any of: " + ",".join(wanted)), (
            method,
            template,
            r.text,
        )


# -- the document --------------------------------------------------------------------------


async def test_the_document_covers_every_management_route_and_no_other(
    container: Container, document: dict[str, Any]
) -> None:
    app = create_app(container, background=False)
    served = {
        (method, route.path_format)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and (route.path_format or "").startswith("/api/v2/")
        and route.path_format != DOCUMENT
        for method in route.methods or ()
    }
    documented = {(m, "/api/v2" + p) for m, p, _ in operations(document)}
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented paths the app does not serve"
    assert DOCUMENT not in document["paths"]
    for method, template, operation in operations(document):
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert len(success) == 1, (method, template, operation["responses"])
        assert operation["security"] and operation["summary"], (method, template)


async def test_the_document_is_public_openapi_3_1_and_built_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[object] = []
    build = openapi.build_document

    def counting(app: Any) -> dict[str, Any]:
        builds.append(app)
        return build(app)

    monkeypatch.setattr(openapi, "build_document", counting)
    app = create_app(container, background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        first, second = await client.get(DOCUMENT), await client.get(DOCUMENT)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json() and len(builds) == 1
    body = first.json()
    assert body["openapi"] == "3.1.0"
    assert body["components"]["securitySchemes"][openapi.SECURITY_SCHEME]["scheme"] == "bearer"
    OpenAPI.from_dict(body)  # validates the document itself
