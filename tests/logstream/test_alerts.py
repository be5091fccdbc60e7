"""Spike alerts: a rule's event count over its threshold in its window writes exactly one
``pg_alert`` for that window, which the operator's log stream then carries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.events import new_event
from phonegate.domain.models import LogEvent
from tests.conftest import Api
from tests.fakes.log_receiver import LogReceiver
from tests.logstream.conftest import add_events, create_stream, ship, tenant_id

VOICE_RULE = {"type": "gd_send_voice", "threshold": 100, "window_seconds": 3600}


async def set_rules(api: Api, *rules: dict[str, Any]) -> None:
    r = await api.mgmt("PUT", "/log-streams/alerts", json=list(rules))
    assert r.status_code == 200, r.text


async def alerts(container: Container, tenant: str) -> list[LogEvent]:
    async with container.unit_of_work() as uow:
        return await uow.events.list(tenant, type_="pg_alert")


async def test_a_spike_writes_one_alert_per_window(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    await set_rules(api, VOICE_RULE)
    tenant = await tenant_id(container)
    await add_events(container, tenant, "gd_send_voice", 101)

    assert await container.shipper.alerts.run_once() == 1
    (alert,) = await alerts(container, tenant)
    assert alert.details == {**VOICE_RULE, "count": 101}
    assert "101 gd_send_voice events" in alert.description

    clock.advance(1800)
    await add_events(container, tenant, "gd_send_voice", 150)
    assert await container.shipper.alerts.run_once() == 0  # still within the window
    clock.advance(1801)  # the first alert's window has passed; the 150 are still in it
    assert await container.shipper.alerts.run_once() == 1
    assert [a.details["count"] for a in await alerts(container, tenant)] == [150, 101]


async def test_at_or_below_the_threshold_no_alert(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    await set_rules(
        api, VOICE_RULE, {"type": "gd_send_voice_failure", "threshold": 5, "window_seconds": 60}
    )
    tenant = await tenant_id(container)
    await add_events(container, tenant, "gd_send_voice", 100)  # equal is not over
    await add_events(container, tenant, "gd_send_sms", 300)  # another type
    async with container.unit_of_work() as uow:  # over the threshold, but before the window
        for _ in range(10):
            old = clock.now() - timedelta(seconds=120)
            await uow.events.add(new_event(tenant, "gd_send_voice_failure", old))
    assert await container.shipper.alerts.run_once() == 0
    assert await alerts(container, tenant) == []


async def test_two_processes_write_one_alert(
    api: Api, container: Container, clock: FrozenClock
) -> None:
    await set_rules(api, VOICE_RULE)
    tenant = await tenant_id(container)
    async with Container(container.settings, clock=clock) as other:
        for window in range(1, 6):  # a race needs several tries to show
            await add_events(container, tenant, "gd_send_voice", 120)
            written = await asyncio.gather(
                container.shipper.alerts.run_once(), other.shipper.alerts.run_once()
            )
            assert sorted(written) == [0, 1]
            assert len(await alerts(container, tenant)) == window
            clock.advance(3601)


async def test_the_log_stream_carries_the_alert(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    await create_stream(
        api, receiver, filters=[{"type": "category", "name": "system.notification"}]
    )
    await set_rules(api, {"type": "gd_send_voice", "threshold": 3, "window_seconds": 600})
    await add_events(container, await tenant_id(container), "gd_send_voice", 4)
    await ship(container, clock)  # the pass ends with the alert check
    await ship(container, clock)  # and the next pass ships it
    (entry,) = receiver.events
    assert entry["data"]["type"] == "pg_alert"
    assert entry["data"]["details"] == {
        "type": "gd_send_voice",
        "threshold": 3,
        "window_seconds": 600,
        "count": 4,
    }
