"""Prometheus metrics of one process: deliveries, provider latency, verifications, limit
refusals, and the outbox backlog (set from the shared database at each scrape).

Every ``Metrics`` owns its ``CollectorRegistry``, never prometheus_client's global one, so
tests and several containers in one process do not collide. Label values are checked
against fixed sets and anything else becomes ``"other"``: a caller cannot grow the number of
time series, and no free text (a phone number, a code) can reach the exposition. Country is
the number's ISO region, never the number.

This module imports only prometheus_client and ``phonegate.phone``, so the domain and the
dispatcher may record through it without breaking the import contracts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from phonegate import phone
from phonegate.errors import InvalidPhoneNumber

OTHER = "other"
NO_PROVIDER = "none"  # the message failed or expired before any provider saw it
UNKNOWN_COUNTRY = "unknown"
CHANNELS = frozenset({"sms", "voice"})
MESSAGE_OUTCOMES = frozenset({"sent", "failed", "retried", "expired"})
# One provider call, as delivery_attempts.outcome records it.
ATTEMPT_OUTCOMES = frozenset({"sent", "retry", "rejected", "misconfigured"})
VERIFICATION_KINDS = frozenset({"enrollment", "authentication", "recovery_code", "passwordless"})
VERIFICATION_OUTCOMES = frozenset(
    {"success", "wrong_code", "expired", "reused", "too_many_attempts"}
)
LIMITS = frozenset(
    {
        "user_send",
        "user_voice",
        "wrong_code",
        "ip",
        "destination",
        "prefix",
        "tenant_budget",
        "country",
    }
)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# phonenumbers names non-geographic numbers (satellite, UIFN) "001", which is no country.
_ISO_REGION = re.compile(r"[A-Z]{2}")


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def country_of(recipient_e164: str) -> str:
    """The ISO 3166 region of a number, or ``"unknown"``."""
    try:
        region = phone.parse(recipient_e164).region
    except InvalidPhoneNumber:
        return UNKNOWN_COUNTRY
    return region if region and _ISO_REGION.fullmatch(region) else UNKNOWN_COUNTRY


class Metrics:
    """One process's metrics. ``providers`` are the names the provider label may take (the
    registry's); any other name is recorded as ``"other"``."""

    def __init__(self, providers: Iterable[str]) -> None:
        self.registry = CollectorRegistry()
        self._providers = frozenset(providers) | {NO_PROVIDER}
        # prometheus_client's own switch, which it reads when first imported: with several
        # workers on one port, each writes its values to files there and a scrape sums them.
        self._multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._messages = Counter(
            "phonegate_messages",
            "Outbox messages by what happened to them.",
            ("provider", "channel", "country", "outcome"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "phonegate_provider_latency_seconds",
            "Time one provider call took, by its outcome.",
            ("provider", "channel", "outcome"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._verifications = Counter(
            "phonegate_verifications",
            "Codes checked, by challenge kind and outcome.",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self._refusals = Counter(
            "phonegate_limit_refusals",
            "Requests refused by a rate limit or budget, by limit.",
            ("limit",),
            registry=self.registry,
        )
        self._budget_warnings = Counter(
            "phonegate_tenant_budget_warnings",
            "Times a tenant's message budget crossed its warning threshold.",
            registry=self.registry,
        )
        # Read from the shared database, so every process reports the same value; in
        # multiprocess mode the scraped process has just written the most recent one.
        self._outbox_pending = Gauge(
            "phonegate_outbox_pending",
            "Outbox messages waiting or being sent, all tenants.",
            ("channel",),
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self._outbox_oldest = Gauge(
            "phonegate_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message waiting or being sent (0 when none).",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )

    def _provider(self, provider: str | None) -> str:
        return NO_PROVIDER if provider is None else _bounded(provider, self._providers)

    def record_message(
        self, provider: str | None, channel: str, recipient_e164: str, outcome: str
    ) -> None:
        """A message was sent, failed, rescheduled (``retried``) or expired undelivered.
        ``provider`` is the registry kind (None when no provider was tried)."""
        self._messages.labels(
            self._provider(provider),
            _bounded(channel, CHANNELS),
            country_of(recipient_e164),
            _bounded(outcome, MESSAGE_OUTCOMES),
        ).inc()

    def observe_provider(self, provider: str, channel: str, outcome: str, seconds: float) -> None:
        """One provider call took ``seconds`` and ended in ``outcome`` (an attempt outcome:
        sent, retry, rejected, misconfigured)."""
        self._latency.labels(
            self._provider(provider),
            _bounded(channel, CHANNELS),
            _bounded(outcome, ATTEMPT_OUTCOMES),
        ).observe(seconds)

    def record_verification(self, kind: str, outcome: str) -> None:
        self._verifications.labels(
            _bounded(kind, VERIFICATION_KINDS), _bounded(outcome, VERIFICATION_OUTCOMES)
        ).inc()

    def record_refusal(self, limit: str) -> None:
        self._refusals.labels(_bounded(limit, LIMITS)).inc()

    def record_budget_warning(self) -> None:
        self._budget_warnings.inc()

    def set_outbox(
        self, pending: Mapping[str, int], oldest_created_at: datetime | None, now: datetime
    ) -> None:
        """The backlog as the database has it now: counts by channel, the oldest message."""
        for channel in CHANNELS:
            self._outbox_pending.labels(channel).set(pending.get(channel, 0))
        age = (now - oldest_created_at).total_seconds() if oldest_created_at else 0.0
        self._outbox_oldest.set(max(age, 0.0))

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's values, or in multiprocess mode the
        sum over every process writing to the same directory."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        # prometheus_client leaves this constructor unannotated.
        MultiProcessCollector(combined, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
