"""Log streams (Auth0's ``/api/v2/log-streams``, type ``http``) and spike-alert rules: what
they may be set to, which events a stream's filters select, and how a failing stream backs
off and is suspended.

Filters name Auth0's categories; phonegate maps each onto its own event codes:

    auth.login.success            s
    auth.login.fail               fp, fu
    auth.login.notification       mfar
    auth.signup.success           ss
    auth.token_exchange.success   seccft, seoobft, sercft
    auth.token_exchange.fail      feccft, feoobft, fercft
    guardian                      every gd_*
    user.notification             every gd_send_* (sends and their failures)
    user.success                  du
    management.success            sapi
    system.notification           every pg_* (phonegate's operator notices, alerts)
    other                         every code no other category names

A stream without filters receives every event. The sink's ``httpAuthorization`` and the
signing secret phonegate adds (``sink.signingSecret``) are write-only: they are sealed with
the server keys and shown once, when created or rotated.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from phonegate import ids
from phonegate.domain.events import CATALOGUE
from phonegate.domain.models import LogStream
from phonegate.domain.phone_providers import SealedUnreadable, open_sealed, seal
from phonegate.errors import InvalidRequest
from phonegate.keys import KeyRing

CONTENT_FORMATS = ("JSONLINES", "JSONARRAY", "JSONOBJECT")
SETTABLE_STATUSES = ("active", "paused")  # "suspended" is the shipper's to set
# Auth0's other stream types (eventbridge, datadog, splunk, …) have no phonegate sink.
STREAM_TYPES = ("http",)
SINK_FIELDS = frozenset(
    {
        "httpEndpoint",
        "httpContentType",
        "httpContentFormat",
        "httpAuthorization",
        "httpCustomHeaders",
    }
)
AUTHORIZATION = "httpAuthorization"
SIGNING_SECRET = "signingSecret"  # noqa: S105 - a field name
# Headers phonegate sets itself: a custom header must not replace or forge them.
RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "transfer-encoding", "connection"}
)
MAX_CUSTOM_HEADERS = 20
MAX_NAME = 255
MAX_ALERT_RULES = 50
ALERT_WINDOW = (60, 86400)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+( *;[ -~]*)?$", re.ASCII)


def _codes(prefix: str) -> frozenset[str]:
    return frozenset(code for code in CATALOGUE if code.startswith(prefix))


_NAMED: dict[str, frozenset[str]] = {
    "auth.login.success": frozenset({"s"}),
    "auth.login.fail": frozenset({"fp", "fu"}),
    "auth.login.notification": frozenset({"mfar"}),
    "auth.signup.success": frozenset({"ss"}),
    "auth.token_exchange.success": frozenset({"seccft", "seoobft", "sercft"}),
    "auth.token_exchange.fail": frozenset({"feccft", "feoobft", "fercft"}),
    "guardian": _codes("gd_"),
    "user.notification": _codes("gd_send_"),
    "user.success": frozenset({"du"}),
    "management.success": frozenset({"sapi"}),
    "system.notification": _codes("pg_"),
}
CATEGORIES: dict[str, frozenset[str]] = {
    **_NAMED,
    "other": frozenset(CATALOGUE).difference(*_NAMED.values()),
}


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(f"Payload validation error: {message}", error_code="invalid_body")


def event_types(filters: list[dict[str, str]]) -> frozenset[str] | None:
    """The event codes a stream's filters select; None (every event) without filters."""
    if not filters:
        return None
    return frozenset().union(*(CATEGORIES[f["name"]] for f in filters))


def retry_delay(
    failures: int, retry_after: float | None = None, *, base: float = 10.0, cap: float = 3600.0
) -> float:
    """Seconds before a stream that failed ``failures`` times in a row is tried again:
    exponential, capped; a receiver's Retry-After wins when it asks for longer."""
    delay = min(base * 2.0 ** max(failures - 1, 0), cap)
    return min(max(delay, retry_after or 0.0), cap)


@dataclass(frozen=True, slots=True)
class StreamSecrets:
    authorization: str | None
    signing_secret: str


def open_secrets(keys: KeyRing, stream: LogStream) -> StreamSecrets:
    stored = open_sealed(keys, stream.secrets)
    return StreamSecrets(stored.get(AUTHORIZATION), stored.get(SIGNING_SECRET, ""))


def _seal(keys: KeyRing, found: StreamSecrets) -> str | None:
    values = {SIGNING_SECRET: found.signing_secret}
    if found.authorization:
        values[AUTHORIZATION] = found.authorization
    return seal(keys, values)


def _new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


# -- validation ----------------------------------------------------------------------------


def _endpoint(value: object) -> str:
    if not isinstance(value, str) or len(value) > 2048:
        raise _invalid("sink.httpEndpoint must be an http:// or https:// URL.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("sink.httpEndpoint must be an http:// or https:// URL with a host.")
    if parts.username is not None or parts.password is not None:
        # The URL is returned by GET; a credential belongs in httpAuthorization.
        raise _invalid("sink.httpEndpoint must not hold credentials; use httpAuthorization.")
    return value


def _one_line(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise _invalid(f"{field} must be one line of printable characters (at most {limit}).")
    return value


def _custom_headers(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_CUSTOM_HEADERS:
        raise _invalid(
            f"sink.httpCustomHeaders must be an array of at most {MAX_CUSTOM_HEADERS} "
            '{"header", "value"} objects.'
        )
    headers: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"header", "value"}:
            raise _invalid('each of sink.httpCustomHeaders must be {"header", "value"}.')
        name = item["header"]
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise _invalid("sink.httpCustomHeaders has an invalid header name.")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("x-phonegate-"):
            raise _invalid(f"sink.httpCustomHeaders may not set {name}.")
        headers.append({"header": name, "value": _one_line(name, item["value"], 1024)})
    return headers


def _sink(given: object, current: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    """The merged non-secret sink, the Authorization value (None: unchanged, "": clear),
    and whether the non-secret sink changed."""
    if not isinstance(given, dict):
        raise _invalid("'sink' must be an object.")
    unknown = sorted(set(given) - SINK_FIELDS)
    if unknown:
        raise _invalid(f"unknown sink field(s): {', '.join(unknown)}.")
    sink = {
        "httpContentType": "application/json",
        "httpContentFormat": "JSONLINES",
        "httpCustomHeaders": [],
        **current,
    }
    if "httpEndpoint" in given:
        sink["httpEndpoint"] = _endpoint(given["httpEndpoint"])
    if "httpEndpoint" not in sink:
        raise _invalid("Missing required property: sink.httpEndpoint.")
    if "httpContentType" in given:
        ctype = given["httpContentType"]
        if not isinstance(ctype, str) or not _MEDIA_TYPE.fullmatch(ctype):
            raise _invalid("sink.httpContentType must be a media type such as application/json.")
        sink["httpContentType"] = ctype
    if "httpContentFormat" in given:
        if given["httpContentFormat"] not in CONTENT_FORMATS:
            raise _invalid(f"sink.httpContentFormat must be one of {', '.join(CONTENT_FORMATS)}.")
        sink["httpContentFormat"] = given["httpContentFormat"]
    if "httpCustomHeaders" in given:
        sink["httpCustomHeaders"] = _custom_headers(given["httpCustomHeaders"])
    authorization: str | None = None
    if AUTHORIZATION in given:
        raw = given[AUTHORIZATION]
        authorization = "" if raw in (None, "") else _one_line(AUTHORIZATION, raw, 4096)
    return sink, authorization, sink != dict(current)


def _filters(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise _invalid('\'filters\' must be an array of {"type": "category", "name"} objects.')
    found: list[dict[str, str]] = []
    for item in value:
        shaped = isinstance(item, dict) and set(item) == {"type", "name"}
        if not shaped or item["type"] != "category":
            raise _invalid('each filter must be {"type": "category", "name": <category>}.')
        if not isinstance(item["name"], str) or item["name"] not in CATEGORIES:
            raise _invalid(
                f"unknown filter category {item['name']!r}; one of {', '.join(CATEGORIES)}."
            )
        if item not in found:
            found.append({"type": "category", "name": item["name"]})
    return found


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise _invalid(f"'name' must be a non-empty string of at most {MAX_NAME} characters.")
    return value


def _priority(value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid("'isPriority' must be a boolean.")
    return value


def _check_fields(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown)}.")


def new_stream(
    keys: KeyRing, tenant_id: str, body: Mapping[str, Any], now: datetime
) -> tuple[LogStream, str]:
    """A stream from a create body, and its signing secret (shown this once). It starts at
    the present: events written before it existed are not sent."""
    _check_fields(body, {"name", "type", "sink", "filters", "isPriority"})
    if body.get("type") not in STREAM_TYPES:
        raise _invalid(f"'type' must be one of {', '.join(STREAM_TYPES)}.")
    if "sink" not in body:
        raise _invalid("Missing required property: sink.")
    sink, authorization, _ = _sink(body["sink"], {})
    signing_secret = _new_signing_secret()
    stream = LogStream(
        id=ids.prefixed("lst", 16),
        tenant_id=tenant_id,
        name=_name(body.get("name", "HTTP log stream")),
        type=body["type"],
        status="active",
        sink=sink,
        secrets=_seal(keys, StreamSecrets(authorization or None, signing_secret)),
        filters=_filters(body.get("filters", [])),
        cursor=ids.log_id(),
        created_at=now,
        updated_at=now,
        is_priority=_priority(body.get("isPriority", False)),
    )
    return stream, signing_secret


@dataclass(frozen=True, slots=True)
class Patched:
    """What a PATCH changed beyond the stream's settings."""

    signing_secret: str | None  # a rotated secret, shown this once
    status: str | None  # the status to set; "active" also clears the failure backoff


def apply_patch(
    keys: KeyRing, stream: LogStream, body: Mapping[str, Any], now: datetime
) -> Patched:
    """Apply a PATCH body: name, status (pause, resume), sink (merged field by field, so a
    secret need not be resent), filters, isPriority, and ``rotateSigningSecret``."""
    _check_fields(
        body, {"name", "type", "status", "sink", "filters", "isPriority", "rotateSigningSecret"}
    )
    if "type" in body and body["type"] != stream.type:
        raise _invalid("a log stream's type cannot change.")
    status = body.get("status")
    if status is not None and status not in SETTABLE_STATUSES:
        raise _invalid(f"'status' must be one of {', '.join(SETTABLE_STATUSES)}.")
    rotate = body.get("rotateSigningSecret", False)
    if not isinstance(rotate, bool):
        raise _invalid("'rotateSigningSecret' must be a boolean.")
    if "name" in body:
        stream.name = _name(body["name"])
    if "filters" in body:
        stream.filters = _filters(body["filters"])
    if "isPriority" in body:
        stream.is_priority = _priority(body["isPriority"])
    try:
        current = open_secrets(keys, stream)
    except SealedUnreadable:
        if not rotate:
            raise _invalid(
                "the stream's secrets cannot be decrypted with the server keys: send "
                "'rotateSigningSecret': true (and the sink's httpAuthorization, if it has one)."
            ) from None
        current = StreamSecrets(None, "")
    authorization, sink_changed = None, False
    if "sink" in body:
        stream.sink, authorization, sink_changed = _sink(body["sink"], stream.sink)
    signing_secret = _new_signing_secret() if rotate else None
    if authorization is not None or signing_secret is not None:
        stream.secrets = _seal(
            keys,
            StreamSecrets(
                current.authorization if authorization is None else (authorization or None),
                signing_secret or current.signing_secret,
            ),
        )
    repaired = sink_changed or authorization is not None
    if status is None and repaired and stream.status == "active":
        status = "active"  # a repaired sink is tried at once, not after the backoff
    if status is not None:
        stream.status = status
        if status == "active":
            stream.failures, stream.next_attempt_at = 0, None
    stream.updated_at = now
    return Patched(signing_secret, status)


def check_alert_rules(value: object) -> list[dict[str, Any]]:
    """Spike-alert rules as stored in TenantSettings.alert_rules:
    ``[{"type": <event code>, "threshold": >= 1, "window_seconds": 60..86400}]``."""
    low, high = ALERT_WINDOW
    if not isinstance(value, list) or len(value) > MAX_ALERT_RULES:
        raise _invalid(f"the alert rules must be an array of at most {MAX_ALERT_RULES} rules.")
    rules: list[dict[str, Any]] = []
    for rule in value:
        if not isinstance(rule, dict) or set(rule) != {"type", "threshold", "window_seconds"}:
            raise _invalid('each alert rule must be {"type", "threshold", "window_seconds"}.')
        if not isinstance(rule["type"], str) or rule["type"] not in CATALOGUE:
            raise _invalid(f"unknown log event type {rule['type']!r}.")
        threshold, window = rule["threshold"], rule["window_seconds"]
        if not _is_int(threshold) or threshold < 1:
            raise _invalid("an alert rule's threshold must be an integer of at least 1.")
        if not _is_int(window) or not low <= window <= high:
            raise _invalid(f"an alert rule's window_seconds must be an integer {low}..{high}.")
        if rule in rules:
            raise _invalid(f"the alert rule for {rule['type']} is listed twice.")
        rules.append(dict(rule))
    return rules


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
