"""Branding > Phone Provider: the tenant phone provider (Auth0's Unified Phone Experience),
created, changed, disabled or deleted through ``/api/v2/branding/phone/providers``, and its
"Send Test Message" with the provider's own answer.

The form shows the fields the API accepts for the chosen provider (Twilio's in Auth0's
names); credentials are write-only: the page says which are set, and an empty field keeps
the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from phonegate.domain import phone_providers
from phonegate.web.admin import forms
from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in
from phonegate.web.requests import container

router = APIRouter(prefix="/admin/branding/phone-provider", route_class=AdminRoute)

PAGE = "/admin/branding/phone-provider"
PROVIDERS = "/branding/phone/providers"
LABELS = {
    "sid": "Account SID",
    "auth_token": "Auth Token",
    "default_from": "From",
    "mssid": "Messaging Service SID",
    "base_url": "API base URL",
    "verify_service_sid": "Verify Service SID",
    "verify_base_url": "Verify base URL",
    "verify_mode": "Verify mode",
    "api_key": "API key",
    "api_secret": "API secret",
    "timeout_seconds": "Timeout (seconds)",
}
NAMES = {"twilio": "Twilio", "custom": "Custom (an action)"}
# Twilio's fields in the order of Auth0's dashboard; phonegate's Twilio additions (a Verify
# service, other endpoints) are tucked away under "more settings".
TWILIO_FIRST = ("sid", "auth_token", "default_from", "mssid")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    secret: bool


def _label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _fields(request: Request, name: str) -> tuple[list[Field], list[Field]]:
    """The fields the API takes for a provider name: the main ones and "more settings"."""
    config, secrets = phone_providers.allowed_fields(container(request).registry, name)
    every = {
        f: Field(f, _label(f), f in secrets) for f in (config | secrets) - {"delivery_methods"}
    }
    first = TWILIO_FIRST if name == "twilio" else sorted(every, key=lambda f: (every[f].secret, f))
    more = sorted(set(every) - set(first))
    return [every[f] for f in first if f in every], [every[f] for f in more]


async def _current(admin: AdminRequest) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = (await admin.api.get(PROVIDERS))["providers"]
    return found[0] if found else None


async def _page(
    admin: AdminRequest,
    *,
    name: str | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    current = await _current(admin)
    names = phone_providers.provider_names(container(admin.request).registry)
    if name not in names:
        name = current["name"] if current else "twilio"
    main, more = _fields(admin.request, name)
    same = current is not None and current["name"] == name
    configuration = current["configuration"] if current and same else {}
    shown = {
        **{f.name: configuration.get(f.name, "") for f in main + more if not f.secret},
        "delivery_methods": configuration.get("delivery_methods", ["text"]),
        "disabled": bool(current and current["disabled"]),
        **(entered or {}),
    }
    return admin.page(
        "phone_provider.html",
        status=status,
        current="phone-provider",
        provider=current,
        name=name,
        provider_options=[(n, NAMES.get(n, n)) for n in names],
        switching=current is not None and not same,
        name_label=NAMES.get(name, name),
        main_fields=main,
        more_fields=more,
        stored_secrets=set(current["credentials_set"]) if current and same else set(),
        fields=shown,
        errors=errors or {},
    )


@router.get("", include_in_schema=False)
async def show(request: Request, admin: AdminRequest = Depends(signed_in)) -> Response:
    return await _page(admin, name=request.query_params.get("name"))


@router.post("", include_in_schema=False)
async def save(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    name = forms.text(form, "name", 64)
    known = name in phone_providers.provider_names(container(admin.request).registry)
    # An unknown name gets no fields: the API says which names there are.
    every = [f for part in _fields(admin.request, name) for f in part] if known else []
    config_fields = [f.name for f in every if not f.secret]
    methods = forms.picked(form, "delivery_methods")
    disabled = forms.flag(form, "disabled")
    body = {
        "name": name,
        "disabled": disabled,
        # Empty fields keep what is stored (a credential is never shown, only replaced).
        "configuration": {**forms.filled(form, *config_fields), "delivery_methods": methods},
        "credentials": forms.filled(form, *(f.name for f in every if f.secret)),
    }
    current = await _current(admin)
    if current is None:
        answer = await admin.api.call("POST", PROVIDERS, body)
    else:
        answer = await admin.api.call("PATCH", f"{PROVIDERS}/{current['id']}", body)
    if not answer.ok:
        entered = {
            **{f: forms.text(form, f) for f in config_fields},
            "delivery_methods": methods,
            "disabled": disabled,
        }
        return await _page(
            admin,
            name=name,
            status=answer.status,
            errors={"provider": answer.message},
            entered=entered,
        )
    return admin.done(PAGE, f"Saved the {name} phone provider.", section="provider")


@router.post("/try", include_in_schema=False)
async def send_test(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    current = await _current(admin)
    if current is None:
        return await _page(admin, status=400, errors={"try": "Save a phone provider first."})
    body = {
        "to": forms.text(form, "to", 32).strip(),
        "delivery_method": forms.text(form, "delivery_method", 8) or "text",
    }
    answer = await admin.api.call("POST", f"{PROVIDERS}/{current['id']}/try", body)
    if not answer.ok and not (isinstance(answer.body, dict) and "provider" in answer.body):
        # Refused before any provider was asked (the number, the method): a form error.
        return await _page(admin, status=answer.status, errors={"try": answer.message})
    notice = "The provider accepted the test message." if answer.ok else answer.message
    result = {"status": answer.status, "answer": answer.body}
    return admin.done(PAGE, notice, result=result, section="try")


@router.get("/delete", include_in_schema=False)
async def confirm_delete(admin: AdminRequest = Depends(signed_in)) -> Response:
    current = await _current(admin)
    if current is None:
        return admin.done(PAGE, "There is no phone provider to delete.")
    return admin.page("phone_provider_delete.html", current="phone-provider", provider=current)


@router.post("/delete", include_in_schema=False)
async def delete(admin: AdminRequest = Depends(signed_in)) -> Response:
    await admin.form()
    current = await _current(admin)
    if current is not None:
        await admin.api.must("DELETE", f"{PROVIDERS}/{current['id']}")
    return admin.done(PAGE, "Deleted the phone provider: the Guardian provider sends again.")
