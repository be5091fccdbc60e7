"""Operator callables the action provider tests run, as an operator's module would hold them.

The recording actions append each event they get to ``seen`` (the tests clear it).
"""

from __future__ import annotations

import asyncio
import copy
import sys
import time
from datetime import UTC, datetime
from typing import Any

from phonegate.providers.action import ActionApi

seen: list[dict[str, Any]] = []

NOT_CALLABLE = 42


def record_sync(event: dict[str, Any], api: ActionApi) -> str:
    seen.append(event)
    return "sync-42"


async def record_async(event: dict[str, Any], api: ActionApi) -> dict[str, str]:
    seen.append(event)
    await asyncio.sleep(0)
    return {"message_id": "async-42"}


class _Recorder:
    async def __call__(self, event: dict[str, Any], api: ActionApi) -> dict[str, int]:
        seen.append(event)
        return {"id": 7}


record_instance = _Recorder()


def mutate_event(event: dict[str, Any], api: ActionApi) -> None:
    seen.append(copy.deepcopy(event))  # as received, before the changes below
    event["user"]["name"] = "changed by the action"
    event["message_options"]["text"] = "changed by the action"


def drop_after_retry(event: dict[str, Any], api: ActionApi) -> None:
    api.notification.retry("not this one")
    api.notification.drop(f"blocked prefix for {event['message_options']['recipient']}")


def retry_after_drop(event: dict[str, Any], api: ActionApi) -> str:
    api.notification.drop("not this one")
    api.notification.retry("carrier busy, try later")
    return "ignored"


def drop_leaking_secret(event: dict[str, Any], api: ActionApi) -> None:
    api.notification.drop(f"refused with key {event['secrets']['API_KEY']}")


def raise_with_secret(event: dict[str, Any], api: ActionApi) -> None:
    raise RuntimeError(f"carrier refused key {event['secrets']['API_KEY']}")


async def raise_async(event: dict[str, Any], api: ActionApi) -> None:
    raise KeyError(event["secrets"]["API_KEY"])


def exit_the_process(event: dict[str, Any], api: ActionApi) -> None:
    sys.exit(3)


def slow_sync(event: dict[str, Any], api: ActionApi) -> str:
    time.sleep(1.0)
    return "too late"


async def slow_async(event: dict[str, Any], api: ActionApi) -> str:
    await asyncio.sleep(30)
    return "too late"


def count_sends(event: dict[str, Any], api: ActionApi) -> str:
    record = api.cache.get("sends")
    count = int(record.value) + 1 if record else 1
    api.cache.set("sends", str(count))
    return f"send-{count}"


def return_unusual(event: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    return {
        "id": None,
        "pair": (1, 2.5),
        "key": event["secrets"]["API_KEY"],
        "at": datetime(2024, 1, 2, tzinfo=UTC),
        "ratio": float("nan"),
    }
