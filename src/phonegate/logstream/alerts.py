"""Spike alerts: each of a tenant's rules (TenantSettings.alert_rules, managed through
``/api/v2/log-streams/alerts``) counts the events of one type in a sliding window; when the
count exceeds the rule's threshold, one ``pg_alert`` event is written, and no other for that
rule until its window has passed.

The alert is a log event like any other, so the operator's log streams carry it: these are
the alerts Auth0's guidance asks operators to build by hand in a monitoring tool ("when you
see spikes in the number of gd_send_voice or gd_send_voice_failure log events").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from phonegate.clock import Clock
from phonegate.domain.events import new_event
from phonegate.domain.models import LogEvent
from phonegate.domain.ports import UnitOfWork, UnitOfWorkFactory

RULE_KEYS = ("type", "threshold", "window_seconds")


def alert_event(tenant_id: str, rule: dict[str, Any], count: int, now: datetime) -> LogEvent:
    return new_event(
        tenant_id,
        "pg_alert",
        now,
        description=(
            f"{count} {rule['type']} events in the last {rule['window_seconds']} s exceed "
            f"the alert threshold of {rule['threshold']}"
        ),
        details={**{key: rule[key] for key in RULE_KEYS}, "count": count},
    )


def _same_rule(details: dict[str, Any], rule: dict[str, Any]) -> bool:
    return all(details.get(key) == rule[key] for key in RULE_KEYS)


class SpikeAlerts:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def run_once(self) -> int:
        """Check every tenant's rules now; returns how many alerts were written."""
        async with self._uow() as uow:
            tenant_ids = await uow.log_streams.tenants_with_alert_rules()
        written = 0
        for tenant_id in tenant_ids:
            async with self._uow() as uow:
                written += await self._check(uow, tenant_id)
        return written

    async def _check(self, uow: UnitOfWork, tenant_id: str) -> int:
        # The rules are read under a lock on the tenant's settings, so two processes never
        # both see "no alert yet" and both write one.
        now = self._clock.now()
        written = 0
        for rule in await uow.log_streams.lock_alert_rules(tenant_id):
            since = now - timedelta(seconds=rule["window_seconds"])
            recent = await uow.log_streams.alerts_since(tenant_id, since)
            if any(_same_rule(details, rule) for details in recent):
                continue
            count = await uow.log_streams.count_events(tenant_id, rule["type"], since)
            if count > rule["threshold"]:
                await uow.events.add(alert_event(tenant_id, rule, count, now))
                written += 1
        return written
