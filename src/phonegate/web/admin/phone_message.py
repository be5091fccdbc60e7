"""Security > Multi-factor Auth > Phone Message: the phone factor and the recovery code, the
Guardian delivery provider and its Twilio account, the message delivery methods, and the
enrollment and verification templates with a preview per language and channel.

Each part is its own form, saved by its own Guardian call, so a refusal (say, voice with the
auth0 provider) is shown next to the form it concerns, in the API's words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from phonegate.domain.messages import DEFAULT_TEMPLATES, MessageKind
from phonegate.domain.phone_factor import GUARDIAN_PROVIDERS
from phonegate.domain.texts import SUPPORTED_LOCALES
from phonegate.web.admin import forms
from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in

router = APIRouter(prefix="/admin/mfa/phone-message", route_class=AdminRoute)

PAGE = "/admin/mfa/phone-message"
GUARDIAN = "/guardian/factors"
MESSAGE_TYPES = {"sms": ["sms"], "voice": ["voice"], "sms,voice": ["sms", "voice"]}
TEMPLATES: tuple[tuple[str, str, MessageKind], ...] = (
    ("enrollment_message", "otp_enroll", "enrollment"),
    ("verification_message", "otp_verify", "verification"),
)
TWILIO_FIELDS = ("sid", "from", "messaging_service_sid")
LANGUAGE_NAMES = dict(
    zip(
        SUPPORTED_LOCALES,
        (
            "English",
            "Spanish",
            "French",
            "German",
            "Portuguese",
            "Italian",
            "Dutch",
            "Japanese",
            "Chinese",
            "Korean",
            "Arabic",
            "Hindi",
        ),
        strict=True,
    )
)


async def _fields(admin: AdminRequest) -> tuple[dict[str, Any], bool]:
    """Every field of the page as stored, and whether a Twilio auth token is."""
    api = admin.api
    enabled = {f["name"]: f["enabled"] for f in await api.get(GUARDIAN)}
    twilio = await api.get(f"{GUARDIAN}/phone/providers/twilio")
    types = (await api.get(f"{GUARDIAN}/phone/message-types"))["message_types"]
    fields: dict[str, Any] = {
        "sms_enabled": enabled.get("sms", False),
        "recovery_enabled": enabled.get("recovery-code", False),
        "provider": (await api.get(f"{GUARDIAN}/phone/selected-provider"))["provider"],
        "message_types": ",".join(types),
        "preview_locale": admin.tenant.settings.default_locale,
        "preview_channel": "sms",
        **{f"twilio_{name}": twilio.get(name) or "" for name in TWILIO_FIELDS},
        **await api.get(f"{GUARDIAN}/phone/templates"),
    }
    return fields, bool(twilio.get("auth_token_set"))


async def _page(
    admin: AdminRequest,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
    preview: list[dict[str, Any]] | None = None,
) -> Response:
    """The page; after a refused or previewed form, that form shows what was sent."""
    fields, token_set = await _fields(admin)
    return admin.page(
        "phone_message.html",
        status=status,
        current="phone-message",
        fields={**fields, **(entered or {})},
        twilio_token_set=token_set,
        providers=GUARDIAN_PROVIDERS,
        language_names=LANGUAGE_NAMES,
        errors=errors or {},
        preview=preview,
    )


async def _apply(
    admin: AdminRequest,
    section: str,
    entered: dict[str, Any],
    calls: list[tuple[str, str, Any]],
    notice: str,
) -> Response:
    """Make the calls in order; the first refusal shows the form again with its message."""
    for method, path, body in calls:
        answer = await admin.api.call(method, path, body)
        if not answer.ok:
            return await _page(
                admin, status=answer.status, errors={section: answer.message}, entered=entered
            )
    return admin.done(PAGE, notice, section=section)


@router.get("", include_in_schema=False)
async def show(admin: AdminRequest = Depends(signed_in)) -> Response:
    return await _page(admin)


@router.post("/factors", include_in_schema=False)
async def save_factors(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    sms, recovery = forms.flag(form, "sms_enabled"), forms.flag(form, "recovery_enabled")
    return await _apply(
        admin,
        "factors",
        {"sms_enabled": sms, "recovery_enabled": recovery},
        [
            ("PUT", f"{GUARDIAN}/sms", {"enabled": sms}),
            ("PUT", f"{GUARDIAN}/recovery-code", {"enabled": recovery}),
        ],
        "Saved the phone factor.",
    )


@router.post("/provider", include_in_schema=False)
async def save_provider(admin: AdminRequest = Depends(signed_in)) -> Response:
    provider = forms.text(await admin.form(), "provider", 64)
    return await _apply(
        admin,
        "provider",
        {"provider": provider},
        [("PUT", f"{GUARDIAN}/phone/selected-provider", {"provider": provider})],
        f"The delivery provider is now {provider}.",
    )


@router.post("/twilio", include_in_schema=False)
async def save_twilio(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    # Empty fields keep what is stored; the auth token is never shown, only replaced.
    body = forms.filled(form, *TWILIO_FIELDS, "auth_token")
    entered = {f"twilio_{name}": forms.text(form, name) for name in TWILIO_FIELDS}
    if not body:
        return await _page(
            admin, status=400, errors={"twilio": "Fill in the fields to change."}, entered=entered
        )
    return await _apply(
        admin,
        "twilio",
        entered,
        [("PUT", f"{GUARDIAN}/phone/providers/twilio", body)],
        "Saved the Twilio settings.",
    )


@router.post("/message-types", include_in_schema=False)
async def save_message_types(admin: AdminRequest = Depends(signed_in)) -> Response:
    chosen = forms.text(await admin.form(), "message_types", 16)
    return await _apply(
        admin,
        "message-types",
        {"message_types": chosen},
        [("PUT", f"{GUARDIAN}/phone/message-types", {"message_types": MESSAGE_TYPES.get(chosen)})],
        "Saved the message delivery method.",
    )


async def _preview(
    admin: AdminRequest, texts: dict[str, str], locale: str, channel: str
) -> list[dict[str, Any]]:
    """Each template rendered through the API's preview. Auth0's default text means "no
    custom text", so what goes out then is asked for instead: the built-in text in that
    language (or a Branding template)."""
    shown = []
    for field, message_type, kind in TEMPLATES:
        body: dict[str, Any] = {"type": message_type, "channel": channel, "locale": locale}
        if texts[field] != DEFAULT_TEMPLATES[kind]:
            body["body"] = texts[field]
        answer = await admin.api.call("POST", "/branding/phone/templates/preview", body)
        shown.append({"kind": kind, **(answer.body if answer.ok else {"error": answer.message})})
    return shown


@router.post("/templates", include_in_schema=False)
async def save_templates(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    texts = {field: forms.text(form, field, 10_000) for field, _, _ in TEMPLATES}
    locale = forms.text(form, "preview_locale", 35)
    channel = forms.text(form, "preview_channel", 8)
    entered = {**texts, "preview_locale": locale, "preview_channel": channel}
    if forms.text(form, "action", 16) == "preview":
        preview = await _preview(admin, texts, locale, channel)
        return await _page(admin, entered=entered, preview=preview)
    answer = await admin.api.call("PUT", f"{GUARDIAN}/phone/templates", texts)
    if not answer.ok:
        return await _page(
            admin, status=answer.status, errors={"templates": answer.message}, entered=entered
        )
    return admin.done(
        PAGE,
        "Saved the templates.",
        result=answer.body["analysis"],
        section="templates",
    )
