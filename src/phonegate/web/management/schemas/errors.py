"""The Management API's error shape (auth0-api.md §3.1; rendered by ``web/errors.py``)."""

from __future__ import annotations

from pydantic import Field

from phonegate.web.management.schemas.common import Strict, omitted


class ManagementError(Strict):
    """``{"statusCode": 404, "error": "Not Found", "message": "…", "errorCode": "…"}``."""

    statusCode: int = Field(ge=400, le=599)
    error: str = Field(description="The status's HTTP reason phrase.")
    message: str
    errorCode: str = omitted(description="A stable code for the failure, when there is one.")
