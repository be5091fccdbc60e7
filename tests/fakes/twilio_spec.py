"""Twilio's own OpenAPI files (providers-wire.md §3.5) as the contract TwilioFake is held to:
what openapi-core finds wrong with a request to either host, or with the fake's answer.

The files are read once from the shared folder, which sits next to the project root
(shared/README.md) and is never copied into it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_DIR = Path(__file__).resolve().parent / "specs"
API_HOST = "https://api.twilio.com"
VERIFY_HOST = "https://verify.twilio.com"


@functools.cache
def spec(filename: str) -> OpenAPI:
    # from_file_path chokes on the surrogate escapes in Twilio's JSON (§3.5); load once.
    return OpenAPI.from_dict(json.loads((SPEC_DIR / filename).read_text()))


def _spec_request(
    method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[OpenAPI, MockRequest]:
    verify = path.startswith("/v2/")
    api = spec("twilio_verify_v2.json" if verify else "twilio_api_v2010.json")
    request = MockRequest(
        VERIFY_HOST if verify else API_HOST,
        method.lower(),
        path,
        headers=dict(headers),
        data=body or None,
        content_type=headers.get("content-type", "application/x-www-form-urlencoded"),
    )
    return api, request


def _describe(error: Exception) -> str:
    cause = f" ({error.__cause__})" if error.__cause__ is not None else ""
    return f"{type(error).__name__}: {error}{cause}"


def request_violations(
    method: str, path: str, headers: Mapping[str, str], body: bytes
) -> list[str]:
    """What the spec finds wrong with a request (path, query, body, security)."""
    api, request = _spec_request(method, path, headers, body)
    return [f"{method} {path}: {_describe(e)}" for e in api.unmarshal_request(request).errors]


def response_violations(
    method: str, path: str, headers: Mapping[str, str], body: bytes, status: int, answer: bytes
) -> list[str]:
    """What the spec finds wrong with a response to that request."""
    api, request = _spec_request(method, path, headers, body)
    response = MockResponse(answer, status_code=status, content_type="application/json")
    errors = api.unmarshal_response(request, response).errors
    return [f"{method} {path} -> {status}: {_describe(e)}" for e in errors]
