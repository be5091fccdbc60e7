"""Actions > Send Phone Message: the operator's Python callables for the two phone triggers,
through ``/api/v2/actions``: list, create (name, code, secrets), edit the draft, deploy,
bind or unbind, and a test run showing the result payload.

Secrets are write-only: the pages list their names; a value typed in is sent once and never
shown again, and an empty value keeps the stored one.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Response

from phonegate.domain.actions import TRIGGERS
from phonegate.domain.delivery_plan import TRIGGER_SEND_PHONE_MESSAGE
from phonegate.web.admin import forms
from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in

router = APIRouter(prefix="/admin/actions", route_class=AdminRoute)

PAGE = "/admin/actions"
ACTIONS = "/actions/actions"
NEW_SECRET_ROWS = 3
MAX_SECRET_ROWS = 60
# A test run's result travels to the next page in a cookie: keep it well under 4 kB.
MAX_SHOWN_RESULT = 1800


def _secrets(form: dict[str, Any]) -> list[dict[str, str]]:
    """The secret rows of a form: name and value (left out to keep the stored one), minus
    those ticked for removal."""
    found = []
    for i in range(MAX_SECRET_ROWS):
        name = forms.text(form, f"secret_name_{i}", 64).strip()
        if not name or forms.flag(form, f"secret_remove_{i}"):
            continue
        value = forms.text(form, f"secret_value_{i}", 4096)
        found.append({"name": name, "value": value} if value else {"name": name})
    return found


async def _bound(admin: AdminRequest) -> dict[str, str]:
    """The bound action's id for each trigger that has one."""
    bound = {}
    for trigger in TRIGGERS:
        listed = (await admin.api.get(f"/actions/triggers/{trigger}/bindings"))["bindings"]
        if listed:
            bound[trigger] = listed[0]["action"]["id"]
    return bound


async def _list_page(
    admin: AdminRequest,
    *,
    status: int = 200,
    error: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    listed = await admin.api.get(ACTIONS, params={"per_page": "100"})
    return admin.page(
        "actions.html",
        status=status,
        current="actions",
        actions=listed["actions"],
        bound=await _bound(admin),
        triggers=TRIGGERS,
        errors={"create": error} if error else {},
        fields={
            "name": "",
            "action_code": "",
            "trigger": TRIGGER_SEND_PHONE_MESSAGE,
            **(entered or {}),
        },
        new_rows=range(NEW_SECRET_ROWS),
    )


@router.get("", include_in_schema=False)
async def list_actions(admin: AdminRequest = Depends(signed_in)) -> Response:
    return await _list_page(admin)


@router.post("", include_in_schema=False)
async def create(admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    entered = {k: forms.text(form, k, 512).strip() for k in ("name", "action_code", "trigger")}
    body = {
        "name": entered["name"],
        "code": entered["action_code"],
        "supported_triggers": [{"id": entered["trigger"], "version": "v2"}],
        "secrets": _secrets(form),
        "deploy": forms.flag(form, "deploy"),
    }
    answer = await admin.api.call("POST", ACTIONS, body)
    if not answer.ok:
        # The secret values typed in are not shown again, even on a refusal.
        return await _list_page(admin, status=answer.status, error=answer.message, entered=entered)
    created = answer.body
    return admin.done(f"{PAGE}/{created['id']}", f"Created the action {created['name']}.")


async def _action_page(
    admin: AdminRequest,
    action_id: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    action = await admin.api.get(f"{ACTIONS}/{action_id}")
    trigger = action["supported_triggers"][0]["id"]
    return admin.page(
        "action.html",
        status=status,
        current="actions",
        action=action,
        trigger=trigger,
        is_bound=(await _bound(admin)).get(trigger) == action["id"],
        errors=errors or {},
        fields={
            "name": action["name"],
            "action_code": action["code"],
            "payload": "",
            **(entered or {}),
        },
        new_rows=range(len(action["secrets"]), len(action["secrets"]) + NEW_SECRET_ROWS),
    )


@router.get("/{action_id}", include_in_schema=False)
async def show(action_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    return await _action_page(admin, action_id)


@router.post("/{action_id}", include_in_schema=False)
async def edit(action_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    entered = {k: forms.text(form, k, 512).strip() for k in ("name", "action_code")}
    body = {"name": entered["name"], "code": entered["action_code"], "secrets": _secrets(form)}
    answer = await admin.api.call("PATCH", f"{ACTIONS}/{action_id}", body)
    if not answer.ok:
        return await _action_page(
            admin,
            action_id,
            status=answer.status,
            errors={"draft": answer.message},
            entered=entered,
        )
    return admin.done(
        f"{PAGE}/{action_id}", "Saved the draft: deploy it to run it.", section="draft"
    )


async def _step(
    admin: AdminRequest, action_id: str, section: str, call: tuple[str, str, Any], notice: str
) -> Response:
    answer = await admin.api.call(*call)
    if not answer.ok:
        return await _action_page(
            admin, action_id, status=answer.status, errors={section: answer.message}
        )
    return admin.done(f"{PAGE}/{action_id}", notice, section=section)


@router.post("/{action_id}/deploy", include_in_schema=False)
async def deploy(action_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    await admin.form()
    call = ("POST", f"{ACTIONS}/{action_id}/deploy", None)
    return await _step(admin, action_id, "deploy", call, "Deployed: the draft is what runs now.")


@router.post("/{action_id}/binding", include_in_schema=False)
async def bind(action_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    trigger = forms.text(form, "trigger", 64)
    binding = forms.text(form, "bind", 8) == "yes"
    refs = [{"ref": {"type": "action_id", "value": action_id}}] if binding else []
    call = ("PATCH", f"/actions/triggers/{trigger}/bindings", {"bindings": refs})
    notice = f"Bound to {trigger}." if binding else f"Unbound from {trigger}."
    return await _step(admin, action_id, "binding", call, notice)


@router.post("/{action_id}/test", include_in_schema=False)
async def test_run(action_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    form = await admin.form()
    raw = forms.text(form, "payload", 16_000).strip()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        return await _action_page(
            admin,
            action_id,
            status=400,
            errors={"test": "The event is not valid JSON: fix it, or leave it empty for a sample."},
            entered={"payload": raw},
        )
    answer = await admin.api.call(
        "POST", f"{ACTIONS}/{action_id}/test", {} if payload is None else {"payload": payload}
    )
    if not answer.ok:
        return await _action_page(
            admin,
            action_id,
            status=answer.status,
            errors={"test": answer.message},
            entered={"payload": raw},
        )
    shown = json.dumps(answer.body["payload"], indent=2, ensure_ascii=False)
    if len(shown) > MAX_SHOWN_RESULT:
        shown = shown[:MAX_SHOWN_RESULT] + "\n…"
    run = answer.body["payload"]
    return admin.done(
        f"{PAGE}/{action_id}",
        f"Test run: {run.get('status')} in {run.get('duration_ms')} ms.",
        result=shown,
        section="test",
    )
