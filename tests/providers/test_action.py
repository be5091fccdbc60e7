"""The action provider running the operator callables of ``sample_actions`` (and the example
in examples/actions) for both Auth0 triggers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from phonegate.providers import action
from phonegate.providers.action import ActionCache, ActionConfig, ActionProvider
from phonegate.providers.base import (
    Misconfigured,
    OutgoingMessage,
    ProviderError,
    Rejected,
    Retryable,
)
from tests.providers import sample_actions

API_KEY = "sk_live_9ZqW3xV7"
SAMPLES = "tests.providers.sample_actions"
EXAMPLE = "examples.actions.send_with_logging:on_send_phone_message"

CONTEXT = {
    "client": {"client_id": "cli_1", "name": "Acme app", "metadata": {"tier": "gold"}},
    "user": {"user_id": "auth0|u1", "email": "jane@example.com", "name": "Jane", "nickname": "j"},
    "request": {"ip": "203.0.113.9", "user_agent": "UA/1", "language": "fr", "hostname": "acme"},
    "tenant": {"id": "ten_1", "friendly_name": "Acme"},
    "from": "+15555550999",
}
MESSAGE = OutgoingMessage(
    tenant_id="ten_1",
    recipient="+15555550123",
    channel="sms",
    text="482913 is your code",
    code="482913",
    locale="fr",
    message_id="msg_1",
    kind="enrollment",
    metadata=CONTEXT,
)


@pytest.fixture(autouse=True)
def _seen() -> Iterator[list[dict[str, Any]]]:
    sample_actions.seen.clear()
    yield sample_actions.seen
    sample_actions.seen.clear()


def config(function: str, **overrides: Any) -> ActionConfig:
    target = function if ":" in function else f"{SAMPLES}:{function}"
    return ActionConfig(**{"target": target, "secrets": {"API_KEY": API_KEY}, **overrides})


def provider(function: str, **overrides: Any) -> ActionProvider:
    return ActionProvider(config(function, **overrides), None)


async def test_sync_action_gets_the_send_phone_message_event() -> None:
    result = await provider("record_sync").send_sms(MESSAGE)

    assert (result.provider, result.provider_message_id, result.status) == (
        "action",
        "sync-42",
        "sent",
    )
    assert sample_actions.seen == [
        {
            "message_options": {
                "recipient": "+15555550123",
                "text": "482913 is your code",
                "message_type": "sms",
                "action": "enrollment",
                "code": "482913",
                "language": "fr",
            },
            "client": CONTEXT["client"],
            "user": CONTEXT["user"],
            "request": CONTEXT["request"],
            "tenant": {"id": "ten_1", "friendly_name": "Acme"},
            "transaction": {"correlation_id": "msg_1"},
            "secrets": {"API_KEY": API_KEY},
        }
    ]


async def test_async_action_gets_the_custom_phone_provider_event_for_a_call() -> None:
    call = replace(MESSAGE, channel="voice", kind="verification", text="4, 8, 2, 9, 1, 3")
    result = await provider("record_async", trigger="custom-phone-provider").place_call(call)

    assert result.provider_message_id == "async-42"
    [event] = sample_actions.seen
    assert event["notification"] == {
        "recipient": "+15555550123",
        "from": "+15555550999",
        "delivery_method": "voice",
        "message_type": "otp_verify",
        "as_text": "",
        "as_voice": "4, 8, 2, 9, 1, 3",
        "code": "482913",
        "locale": "fr",
    }
    assert "message_options" not in event
    assert (event["client"], event["user"], event["request"]) == (
        CONTEXT["client"],
        CONTEXT["user"],
        CONTEXT["request"],
    )
    assert event["tenant"] == {"id": "ten_1", "friendly_name": "Acme"}
    assert event["secrets"] == {"API_KEY": API_KEY}


async def test_missing_context_becomes_empty_parts() -> None:
    bare = replace(MESSAGE, metadata={}, kind="verification")
    await provider("record_instance", trigger="custom-phone-provider").send_sms(bare)
    await provider("record_sync").send_sms(bare)

    custom, legacy = sample_actions.seen
    assert custom["notification"]["from"] == ""
    assert custom["notification"]["delivery_method"] == "text"
    assert (custom["notification"]["as_text"], custom["notification"]["as_voice"]) == (
        "482913 is your code",
        "",
    )
    assert legacy["message_options"]["action"] == "second-factor-authentication"
    for event in (custom, legacy):
        assert (event["client"], event["user"], event["request"]) == ({}, {}, {})
        assert event["tenant"] == {"id": "ten_1"}


async def test_an_instance_with_async_call_and_a_numeric_id() -> None:
    result = await provider("record_instance").send_sms(MESSAGE)
    assert result.provider_message_id == "7"
    assert len(sample_actions.seen) == 1


async def test_each_run_gets_a_fresh_event_and_the_message_is_untouched() -> None:
    mutating = provider("mutate_event")
    first = await mutating.send_sms(MESSAGE)
    await mutating.send_sms(MESSAGE)

    assert first.provider_message_id is None
    second = sample_actions.seen[1]
    assert second["user"]["name"] == "Jane"
    assert second["message_options"]["text"] == "482913 is your code"
    assert MESSAGE.metadata["user"]["name"] == "Jane"


async def test_drop_rejects_and_the_last_call_wins() -> None:
    with pytest.raises(Rejected) as caught:
        await provider("drop_after_retry").send_sms(MESSAGE)
    assert caught.value.code == "dropped"
    # The reason is the action's, with the number masked like every provider error.
    assert caught.value.message == "blocked prefix for XXXXXXXX0123"


async def test_retry_is_retryable_and_the_last_call_wins() -> None:
    with pytest.raises(Retryable) as caught:
        await provider("retry_after_drop").send_sms(MESSAGE)
    assert caught.value.code == "retry"
    assert caught.value.message == "carrier busy, try later"


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("raise_with_secret", "the action raised RuntimeError: carrier refused key ***"),
        ("raise_async", "the action raised KeyError: '***'"),
        ("exit_the_process", "the action raised SystemExit: 3"),
    ],
)
async def test_a_raising_action_rejects_with_its_secrets_masked(
    function: str, expected: str
) -> None:
    with pytest.raises(Rejected) as caught:
        await provider(function).send_sms(MESSAGE)
    assert caught.value.code == "action_error"
    assert caught.value.message == expected
    assert API_KEY not in str(caught.value)
    # Nothing links back to the action's exception (and its frames, which hold the secrets).
    assert caught.value.__cause__ is None and caught.value.__context__ is None


@pytest.mark.parametrize(
    ("target", "code", "says"),
    [
        ("tests.providers.no_such_module:send", "action_not_found", "cannot be imported"),
        (f"{SAMPLES}:no_such_function", "action_not_found", "has no 'no_such_function'"),
        (f"{SAMPLES}:NOT_CALLABLE", "action_not_callable", "is not callable (it is a int)"),
    ],
    ids=["no-module", "no-attribute", "not-callable"],
)
async def test_a_bad_target_is_misconfigured_at_send_time(
    target: str, code: str, says: str
) -> None:
    broken = provider(target)  # constructing it imports nothing
    for send in (broken.send_sms, broken.place_call):
        with pytest.raises(Misconfigured) as caught:
            await send(MESSAGE)
        assert caught.value.code == code
        assert target in caught.value.message and says in caught.value.message
        assert API_KEY not in caught.value.message


@pytest.mark.parametrize("function", ["slow_sync", "slow_async"])
async def test_a_slow_action_times_out(function: str) -> None:
    started = time.monotonic()
    with pytest.raises(Retryable) as caught:
        await provider(function, timeout_seconds=0.3).send_sms(MESSAGE)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 0.9


async def test_no_error_message_holds_a_secret() -> None:
    errors: list[ProviderError] = []
    for function in ("drop_leaking_secret", "raise_with_secret", "raise_async", "no_such"):
        with pytest.raises(ProviderError) as caught:
            await provider(function).send_sms(MESSAGE)
        errors.append(caught.value)
    assert errors[0].message == "refused with key ***"
    for error in errors:
        assert API_KEY not in error.message and API_KEY not in str(error)


async def test_the_cache_persists_between_sends_of_one_instance() -> None:
    counting = provider("count_sends")
    first = await counting.send_sms(MESSAGE)
    second = await counting.place_call(replace(MESSAGE, channel="voice"))
    other = await provider("count_sends").send_sms(MESSAGE)

    assert (first.provider_message_id, second.provider_message_id) == ("send-1", "send-2")
    assert other.provider_message_id == "send-1"


def test_the_cache_is_bounded_and_expires() -> None:
    now = [1_000.0]
    cache = ActionCache(max_entries=2, now=lambda: now[0])
    cache.set("a", "1")
    cache.set("b", "2", ttl=500)
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.set("c", "3")

    assert cache.get("b") is None  # evicted: least recently used
    assert cache.get("a") == action.CacheRecord("1", 1_000_000 + ActionCache.DEFAULT_TTL_MS)
    now[0] += 15 * 60
    assert cache.get("a") is None and cache.get("c") is None
    record = cache.set("d", "4", ttl=60_000, expires_at=1_901_000)
    assert record.expires_at == 1_901_000  # the earlier of the two
    assert cache.delete("d") and not cache.delete("d")
    with pytest.raises(ValueError):
        cache.set("e", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cache.set("e", "x" * (ActionCache.MAX_VALUE_CHARS + 1))


async def test_test_run_reports_a_sent_message_with_the_sample_event() -> None:
    report = await action.test_run(config("record_sync"))

    assert report["status"] == "sent" and report["result"] == "sync-42"
    assert report["error"] is None and report["duration_ms"] >= 0
    [event] = sample_actions.seen
    assert event["message_options"]["recipient"] == "+15555550100"
    assert event["message_options"]["code"] == "123456"
    assert "@example.com" in event["user"]["email"] and "***" in event["user"]["email"]
    assert event["secrets"] == {"API_KEY": API_KEY}


async def test_test_run_uses_the_given_event_or_message() -> None:
    given = {"message_options": {"recipient": "+15555550142"}, "secrets": {"API_KEY": "forged"}}
    await action.test_run(config("record_sync"), given)
    await action.test_run(config("record_sync", trigger="custom-phone-provider"), message=MESSAGE)

    from_event, from_message = sample_actions.seen
    assert from_event == {
        "message_options": {"recipient": "+15555550142"},
        "secrets": {"API_KEY": API_KEY},
    }
    assert given["secrets"] == {"API_KEY": "forged"}  # the caller's event is left alone
    assert from_message["notification"]["recipient"] == "+15555550123"


@pytest.mark.parametrize(
    ("function", "status", "error"),
    [
        ("drop_after_retry", "dropped", "blocked prefix for XXXXXXXX0100"),
        ("retry_after_drop", "retry", "carrier busy, try later"),
        ("raise_with_secret", "error", "the action raised RuntimeError: carrier refused key ***"),
        ("no_such_function", "error", f"the action {SAMPLES}:no_such_function does not exist"),
    ],
)
async def test_test_run_reports_each_outcome(function: str, status: str, error: str) -> None:
    report = await action.test_run(config(function))
    assert (report["status"], report["result"]) == (status, None)
    assert report["error"].startswith(error)


async def test_test_run_reports_a_timeout_as_an_error() -> None:
    report = await action.test_run(config("slow_async", timeout_seconds=0.3))
    assert report["status"] == "error"
    assert "did not finish within 0.3 s" in report["error"]
    assert 300 <= report["duration_ms"] < 900


async def test_test_run_result_is_json_safe_and_masked() -> None:
    report = await action.test_run(config("return_unusual"))

    assert report["status"] == "sent"
    assert report["result"] == {
        "id": None,
        "pair": [1, 2.5],
        "key": "***",
        "at": "2024-01-02 00:00:00+00:00",
        "ratio": "nan",
    }
    json.dumps(report, allow_nan=False)


async def test_the_example_logs_masked_and_drops_blocked_prefixes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    example = provider(EXAMPLE)
    with caplog.at_level(logging.INFO, logger="examples.actions.send_with_logging"):
        sent = await example.send_sms(MESSAGE)
        with pytest.raises(Rejected) as caught:
            await example.place_call(replace(MESSAGE, channel="voice", recipient="+882123456789"))

    assert sent.provider_message_id == "logged-msg_1"
    assert caught.value.code == "dropped"
    assert caught.value.message == "XXXXXXXXX6789 is in a number range this service does not serve"
    logged = [record.getMessage() for record in caplog.records]
    assert logged == [
        "sending the enrollment sms message to XXXXXXXX0123",
        "dropping the voice message to XXXXXXXXX6789: blocked prefix",
    ]
    for text in logged:
        assert MESSAGE.recipient not in text and MESSAGE.code not in text  # type: ignore[operator]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target", "sample_actions"),
        ("target", "pkg.module:"),
        ("target", "1pkg:send"),
        ("target", "pkg:send-sms"),
        ("target", "pkg.module:send extra"),
        ("trigger", "post-login"),
        ("secrets", {"1KEY": "x"}),
        ("secrets", {"HAS-DASH": "x"}),
        ("secrets", {"": "x"}),
        ("secrets", {"K" * 65: "x"}),
        ("timeout_seconds", 0),
        ("timeout_seconds", 60.5),
        ("base_url", "https://example.com"),
    ],
)
def test_config_refuses_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ActionConfig(**{"target": f"{SAMPLES}:record_sync", field: value})
    assert field in str(caught.value)


def test_config_defaults_keep_secrets_out_of_its_dumps() -> None:
    defaults = ActionConfig(target="my_actions.sms:send")
    assert (defaults.trigger, defaults.secrets, defaults.timeout_seconds) == (
        "send-phone-message",
        {},
        10.0,
    )
    configured = config("record_sync", secrets={"API_KEY": API_KEY, "K" * 64: "v"})
    assert API_KEY not in repr(configured) and API_KEY not in configured.model_dump_json()
    assert ActionProvider(configured).channels == {"sms", "voice"}
