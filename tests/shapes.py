"""The two error shapes phonegate answers with, as assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx


def assert_error(
    r: httpx.Response, status: int, error: str, description: str | None = None
) -> dict[str, Any]:
    """The Authentication API error shape: exactly ``error`` and ``error_description``."""
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    if description is None:
        assert isinstance(body["error_description"], str) and body["error_description"], body
    else:
        assert body["error_description"] == description, body
    return body


def mgmt_error(
    r: httpx.Response,
    status: int,
    error_code: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The Management API error shape."""
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert (
        {"statusCode", "error", "message"}
        <= set(body)
        <= {
            "statusCode",
            "error",
            "message",
            "errorCode",
        }
    ), body
    assert body["statusCode"] == status, body
    assert body["error"] == httpx.codes.get_reason_phrase(status), body
    assert isinstance(body["message"], str) and body["message"], body
    if error_code is not None:
        assert body.get("errorCode") == error_code, body
    if message is not None:
        assert body["message"] == message, body
    return body
