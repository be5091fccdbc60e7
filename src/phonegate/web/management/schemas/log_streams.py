"""Log streams of type ``http`` and the spike-alert rules (``web/management/log_streams.py``,
``domain/log_streams.py``). ``httpAuthorization`` is write-only; ``signingSecret`` is shown
once, by the create and by a PATCH with ``rotateSigningSecret``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from phonegate.domain.events import CATALOGUE
from phonegate.domain.log_streams import (
    ALERT_WINDOW,
    CATEGORIES,
    CONTENT_FORMATS,
    MAX_ALERT_RULES,
    MAX_CUSTOM_HEADERS,
    MAX_NAME,
    SETTABLE_STATUSES,
    STREAM_TYPES,
)
from phonegate.web.management.schemas.common import Strict, omitted, one_of

StreamType = Annotated[str, one_of(STREAM_TYPES)]
ContentFormat = Annotated[str, one_of(CONTENT_FORMATS)]
EventType = Annotated[str, one_of(CATALOGUE)]


class CustomHeader(Strict):
    header: str
    value: str


class Filter(Strict):
    type: Literal["category"]
    name: Annotated[str, one_of(CATEGORIES)]


class Sink(Strict):
    httpEndpoint: str
    httpContentType: str
    httpContentFormat: ContentFormat
    httpCustomHeaders: list[CustomHeader]
    signingSecret: str = omitted(
        description="phonegate: the HMAC key of the X-Phonegate-Signature header; shown once."
    )


class StreamDelivery(Strict):
    """phonegate: where a failing stream is in its backoff."""

    failures: int
    lastError: str | None
    nextAttemptAt: datetime | None


class LogStream(Strict):
    id: str = Field(examples=["lst_0000000000000001"])
    name: str
    type: StreamType
    status: Annotated[str, one_of([*SETTABLE_STATUSES, "suspended"])]
    sink: Sink
    filters: list[Filter]
    isPriority: bool
    delivery: StreamDelivery


class SinkChange(Strict):
    """Merged field by field into the stored sink."""

    httpEndpoint: str = omitted(max_length=2048, description="An http:// or https:// URL.")
    httpContentType: str = omitted(examples=["application/json"])
    httpContentFormat: ContentFormat = omitted()
    httpAuthorization: str = omitted(description='Write-only; "" removes it.')
    httpCustomHeaders: list[CustomHeader] = omitted(max_length=MAX_CUSTOM_HEADERS)


class SinkCreate(SinkChange):
    httpEndpoint: str = Field(max_length=2048, description="An http:// or https:// URL.")


class StreamChange(Strict):
    name: str = omitted(min_length=1, max_length=MAX_NAME)
    type: StreamType = omitted(description="Cannot change.")
    status: Annotated[str, one_of(SETTABLE_STATUSES)] = omitted(
        description="active also clears a failing stream's backoff."
    )
    sink: SinkChange = omitted()
    filters: list[Filter] = omitted(description="None: every event.")
    isPriority: bool = omitted()
    rotateSigningSecret: bool = omitted(description="Answer a new signingSecret, once.")


class StreamCreate(Strict):
    name: str = omitted(min_length=1, max_length=MAX_NAME)
    type: StreamType
    sink: SinkCreate
    filters: list[Filter] = omitted(description="None: every event.")
    isPriority: bool = omitted()


class AlertRule(Strict):
    type: EventType
    threshold: int = Field(ge=1)
    window_seconds: int = Field(ge=ALERT_WINDOW[0], le=ALERT_WINDOW[1])


AlertRules = Annotated[list[AlertRule], Field(max_length=MAX_ALERT_RULES)]
