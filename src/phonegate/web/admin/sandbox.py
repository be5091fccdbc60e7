"""Development > Sandbox inbox: what the built-in ``sandbox`` and ``auth0`` providers
"delivered" (``GET /api/v2/sandbox/messages``), drawn as a phone's message list: newest
first, texts as bubbles, voice messages as calls with the script that was read."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in

router = APIRouter(prefix="/admin/sandbox", route_class=AdminRoute)

SHOWN = 50


@router.get("", include_in_schema=False)
async def inbox(request: Request, admin: AdminRequest = Depends(signed_in)) -> Response:
    recipient = request.query_params.get("recipient", "").strip()[:32]
    params = {"limit": str(SHOWN), **({"recipient": recipient} if recipient else {})}
    messages = await admin.api.get("/sandbox/messages", params=params)
    return admin.page(
        "sandbox.html", current="sandbox", messages=messages, recipient=recipient, shown=SHOWN
    )
