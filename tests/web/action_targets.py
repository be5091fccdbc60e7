"""Operator callables the Actions API tests bind, as an operator's module would hold them.

The recording ones append ``(their name, the event)`` to ``calls``; the tests clear it.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from phonegate.providers.action import ActionApi

calls: list[tuple[str, dict[str, Any]]] = []


def record(event: dict[str, Any], api: ActionApi) -> dict[str, str]:
    calls.append(("record", copy.deepcopy(event)))
    return {"id": f"first-{len(calls)}"}


async def record_other(event: dict[str, Any], api: ActionApi) -> str:
    calls.append(("record_other", copy.deepcopy(event)))
    return f"second-{len(calls)}"


def echo_secret(event: dict[str, Any], api: ActionApi) -> dict[str, str]:
    return {"id": "echo", "key": event["secrets"]["API_KEY"]}


def raise_with_secret(event: dict[str, Any], api: ActionApi) -> None:
    raise RuntimeError(f"carrier refused the key {event['secrets']['API_KEY']}")


async def slow(event: dict[str, Any], api: ActionApi) -> str:
    await asyncio.sleep(0.3)
    return "slow-1"
