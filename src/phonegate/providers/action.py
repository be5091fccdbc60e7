"""The operator's own Python code as a delivery provider, run the way Auth0 runs a "Send Phone
Message" Action (auth0-api.md §4.1) or a ``custom-phone-provider`` Action (§4.3). It speaks no
vendor API, so it follows no section of providers-wire.md.

``target`` names a callable, ``package.module:function``, sync or async, called with
``(event, api)``. ``event`` is a plain dict shaped like Auth0's event for the configured
trigger, with the configured secrets at ``event["secrets"]``. ``api.notification.drop(reason)``
refuses the message for good, ``api.notification.retry(reason)`` asks for another attempt
later (the last call wins), and ``api.cache`` keeps short-lived strings between runs of one
provider instance. Returning normally means sent: a returned string, or a returned dict's
``"id"`` or ``"message_id"``, becomes the provider message id.

    def on_send_phone_message(event, api):
        options = event["message_options"]
        if options["recipient"].startswith("+882"):
            api.notification.drop("international networks are not served")
            return None
        return my_carrier.send(options["recipient"], options["text"], event["secrets"]["KEY"])

A raised exception rejects the message; its text is reported with every secret value masked.
Sync callables run in a worker thread, which cannot be stopped: one that overruns
``timeout_seconds`` is reported as a timeout and left to finish on its own.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import inspect
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from phonegate.providers.base import (
    MAX_ID_CHARS,
    ChannelName,
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
    SendResult,
    answered_id,
)

Trigger = Literal["send-phone-message", "custom-phone-provider"]
ActionFunction = Callable[[dict[str, Any], "ActionApi"], Any]

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_REASON_CHARS = 1024  # Auth0's bound on a drop/retry reason
_MAX_RESULT_DEPTH = 20
# An operator's sys.exit() must fail one message, not stop the dispatcher.
_ACTION_FAILURES = (Exception, SystemExit)


class ActionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str
    trigger: Trigger = "send-phone-message"
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @field_validator("target")
    @classmethod
    def _target_names_a_callable(cls, value: str) -> str:
        if not _TARGET.fullmatch(value):
            raise ValueError("target must name a callable as 'package.module:function'")
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_names_are_identifiers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not _SECRET_NAME.fullmatch(name):
                raise ValueError(
                    f"secret name {name!r} must be 1-64 letters, digits or underscores "
                    "and must not start with a digit"
                )
        return value


@dataclass(frozen=True, slots=True)
class CacheRecord:
    value: str
    expires_at: int  # milliseconds since the Unix epoch, as Auth0 reports it


class ActionCache:
    """Auth0's ``api.cache`` for one provider instance: string values whose lifetime is 15
    minutes unless ``ttl`` (milliseconds) or ``expires_at`` (epoch milliseconds) says
    otherwise, the earlier winning when both are given. Bounded: past ``max_entries`` the
    least recently used record goes. Best effort, as Auth0's: a restart empties it."""

    DEFAULT_TTL_MS = 15 * 60 * 1000
    MAX_TTL_MS = 24 * 60 * 60 * 1000
    MAX_KEY_CHARS = 256
    MAX_VALUE_CHARS = 4096

    def __init__(self, max_entries: int = 256, *, now: Callable[[], float] = time.time) -> None:
        self._records: OrderedDict[str, CacheRecord] = OrderedDict()
        self._max_entries = max_entries
        self._now = now
        self._lock = threading.Lock()  # sync actions run in worker threads

    def _now_ms(self) -> int:
        return int(self._now() * 1000)

    def get(self, key: str) -> CacheRecord | None:
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return None
            if record.expires_at <= self._now_ms():
                del self._records[key]
                return None
            self._records.move_to_end(key)
            return record

    def set(
        self, key: str, value: str, *, ttl: int | None = None, expires_at: int | None = None
    ) -> CacheRecord:
        if not isinstance(key, str) or not 0 < len(key) <= self.MAX_KEY_CHARS:
            raise ValueError(f"api.cache keys are strings of 1-{self.MAX_KEY_CHARS} characters")
        if not isinstance(value, str) or len(value) > self.MAX_VALUE_CHARS:
            raise ValueError(f"api.cache values are strings of at most {self.MAX_VALUE_CHARS}")
        now = self._now_ms()
        ends = [now + self.MAX_TTL_MS]
        if ttl is None and expires_at is None:
            ends.append(now + self.DEFAULT_TTL_MS)
        if ttl is not None:
            ends.append(now + ttl)
        if expires_at is not None:
            ends.append(expires_at)
        record = CacheRecord(value=value, expires_at=min(ends))
        with self._lock:
            self._records[key] = record
            self._records.move_to_end(key)
            while len(self._records) > self._max_entries:
                self._records.popitem(last=False)
        return record

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._records.pop(key, None) is not None


class Notification:
    """``api.notification``: what the action decided about this message; the last call wins."""

    def __init__(self) -> None:
        self.decision: tuple[Literal["drop", "retry"], str] | None = None

    def drop(self, reason: str = "") -> None:
        self.decision = ("drop", str(reason)[:MAX_REASON_CHARS])

    def retry(self, reason: str = "") -> None:
        self.decision = ("retry", str(reason)[:MAX_REASON_CHARS])


@dataclass(frozen=True, slots=True)
class ActionApi:
    """The ``api`` argument: one ``notification`` per run, the instance's ``cache``."""

    notification: Notification
    cache: ActionCache


def build_event(message: OutgoingMessage, trigger: Trigger) -> dict[str, Any]:
    """Auth0's event for ``trigger``, without secrets. The metadata parts are deep copies:
    the action may mutate its event, never the message."""
    context = message.metadata

    def part(key: str) -> dict[str, Any]:
        return copy.deepcopy(context.get(key) or {})

    shared = {
        "client": part("client"),
        "user": part("user"),
        "request": part("request"),
        "tenant": {"id": message.tenant_id, **part("tenant")},
        "transaction": {"correlation_id": message.message_id},
    }
    if trigger == "send-phone-message":
        return {
            "message_options": {
                "recipient": message.recipient,
                "text": message.text,
                "message_type": message.channel,
                "action": (
                    "enrollment" if message.kind == "enrollment" else "second-factor-authentication"
                ),
                "code": message.code,
                "language": message.locale,
            },
            **shared,
        }
    voice = message.channel == "voice"
    return {
        "notification": {
            "recipient": message.recipient,
            "from": context.get("from") or "",
            "delivery_method": "voice" if voice else "text",
            "message_type": "otp_enroll" if message.kind == "enrollment" else "otp_verify",
            "as_text": "" if voice else message.text,
            "as_voice": message.text if voice else "",
            "code": message.code,
            "locale": message.locale,
        },
        **shared,
    }


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ fails still needs reporting
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _call(function: ActionFunction, event: dict[str, Any], api: ActionApi) -> Any:
    # The second test finds instances of a class with an ``async def __call__``.
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    ):
        returned = function(event, api)
    else:
        returned = await asyncio.to_thread(function, event, api)
    # A decorated coroutine function can look sync and hand back its coroutine.
    if inspect.isawaitable(returned):
        returned = await returned
    return returned


class ActionProvider:
    name: ClassVar[str] = "action"
    Config: ClassVar[type[BaseModel]] = ActionConfig

    def __init__(self, config: ActionConfig, http: httpx.AsyncClient | None = None) -> None:
        # ``http`` is unused: the registry constructs every provider the same way.
        self._config = config
        self._secrets = {name: value.get_secret_value() for name, value in config.secrets.items()}
        # Longest first, so a secret containing another is masked whole.
        self._secret_values = sorted(
            {value for value in self._secrets.values() if value}, key=len, reverse=True
        )
        self._cache = ActionCache()
        self._function: ActionFunction | None = None

    @property
    def channels(self) -> frozenset[str]:
        return frozenset({"sms", "voice"})

    async def send_sms(self, message: OutgoingMessage) -> SendResult:
        return await self._send(message)

    async def place_call(self, message: OutgoingMessage) -> SendResult:
        return await self._send(message)

    async def _send(self, message: OutgoingMessage) -> SendResult:
        returned = await self.run(build_event(message, self._config.trigger))
        return SendResult(
            provider=self.name, provider_message_id=self._message_id(returned), status="sent"
        )

    def mask(self, text: str) -> str:
        """``text`` with every configured secret value replaced by ``***``."""
        for value in self._secret_values:
            text = text.replace(value, "***")
        return text

    async def run(self, event: dict[str, Any]) -> Any:
        """Run the action once with ``event`` (its secrets set to the configured ones) and
        return what it returned, or raise the provider error its outcome means."""
        function = await self._function_to_run()
        api = ActionApi(Notification(), self._cache)
        timeout = self._config.timeout_seconds
        failure: ProviderError | None = None
        try:
            async with asyncio.timeout(timeout) as deadline:
                returned = await _call(function, {**event, "secrets": dict(self._secrets)}, api)
        except _ACTION_FAILURES as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                failure = Retryable(
                    f"the action {self._config.target} did not finish within {timeout:g} s",
                    code="timeout",
                )
            else:
                failure = Rejected(
                    self.mask(f"the action raised {_describe(exc)}"), code="action_error"
                )
        # Raised outside the handler so nothing links back to the action's exception, whose
        # traceback holds the event and its secrets.
        if failure is not None:
            raise failure
        if api.notification.decision is not None:
            kind, reason = api.notification.decision
            if kind == "drop":
                raise Rejected(
                    self.mask(reason or "the action dropped the message"), code="dropped"
                )
            raise Retryable(self.mask(reason or "the action asked to retry later"), code="retry")
        return returned

    async def _function_to_run(self) -> ActionFunction:
        if self._function is None:
            # Importing runs the operator's module code: keep it off the event loop.
            self._function = await asyncio.to_thread(self._import_target)
        return self._function

    def _import_target(self) -> ActionFunction:
        target = self._config.target
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except _ACTION_FAILURES as exc:
            raise Misconfigured(
                self.mask(f"the action {target} cannot be imported: {_describe(exc)}"),
                code="action_not_found",
            ) from None
        try:
            function = getattr(module, attribute)
        except AttributeError:
            raise Misconfigured(
                f"the action {target} does not exist: {module_name} has no {attribute!r}",
                code="action_not_found",
            ) from None
        if not callable(function):
            raise Misconfigured(
                f"the action {target} is not callable (it is a {type(function).__name__})",
                code="action_not_callable",
            )
        return function  # type: ignore[no-any-return]

    def _message_id(self, returned: Any) -> str | None:
        found = answered_id(returned)
        return self.mask(found)[:MAX_ID_CHARS] if found else None


def sample_message(channel: ChannelName = "sms") -> OutgoingMessage:
    """What a test run sends when given nothing: a fictional number and a masked demo user."""
    return OutgoingMessage(
        tenant_id="test-tenant",
        recipient="+15555550100",
        channel=channel,
        text="123456 is your verification code for Test tenant",
        code="123456",
        message_id="test-run",
        metadata={
            "client": {"client_id": "test-client", "name": "Test application", "metadata": {}},
            "user": {
                "user_id": "auth0|demo",
                "email": "j***@example.com",
                "name": "J*** D***",
                "nickname": "j***",
                "phone_number": "+1XXXXXX0100",
            },
            "request": {
                "ip": "203.0.113.10",
                "user_agent": "phonegate test run",
                "language": "en",
                "hostname": "localhost",
            },
            "tenant": {"id": "test-tenant", "friendly_name": "Test tenant"},
        },
    )


def _json_safe(value: Any, mask: Callable[[str], str], depth: int = 0) -> Any:
    """``value`` as JSON data with every string masked; anything else becomes its str()."""
    if value is None or isinstance(value, int):  # bool is an int
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return mask(value)
    if depth < _MAX_RESULT_DEPTH:
        if isinstance(value, Mapping):
            return {mask(str(k)): _json_safe(v, mask, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [_json_safe(v, mask, depth + 1) for v in value]
    return mask(str(value))


_TEST_RUN_STATUS = {"dropped": "dropped", "retry": "retry"}


async def test_run(
    config: ActionConfig,
    event: dict[str, Any] | None = None,
    *,
    message: OutgoingMessage | None = None,
) -> dict[str, Any]:
    """The Management API's test run (the *Test* button of Auth0's Actions editor): run the
    action once with ``event``, else the event for ``message``, else a sample event, and
    report ``status`` ("sent", "dropped", "retry" or "error"), the JSON-safe ``result``, the
    ``error`` message and ``duration_ms``. Never raises for what the action does."""
    provider = ActionProvider(config)
    if event is None:
        event = build_event(message or sample_message(), config.trigger)
    else:
        event = copy.deepcopy(event)
    status, result, error = "sent", None, None
    started = time.perf_counter()
    try:
        returned = await provider.run(event)
    except ProviderError as exc:
        status, error = _TEST_RUN_STATUS.get(exc.code or "", "error"), exc.message
    else:
        try:
            result = _json_safe(returned, provider.mask)
        except Exception:  # a returned object that cannot even be printed
            result = f"<{type(returned).__name__}>"
    return {
        "status": status,
        "result": result,
        "error": error,
        "duration_ms": (time.perf_counter() - started) * 1000,
    }
