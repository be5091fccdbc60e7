"""``GET /metrics``: the recording functions as the exposition shows them, bounded labels,
the outbox gauges from the database (SQLite and PostgreSQL), the token, and that no phone
number or code ever reaches the exposition."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from phonegate.bootstrap import Credentials
from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.metrics import (
    ATTEMPT_OUTCOMES,
    CHANNELS,
    LATENCY_BUCKETS,
    LIMITS,
    MESSAGE_OUTCOMES,
    NO_PROVIDER,
    OTHER,
    UNKNOWN_COUNTRY,
    VERIFICATION_KINDS,
    VERIFICATION_OUTCOMES,
    Metrics,
)
from phonegate.settings import Settings
from phonegate.storage.repositories import OUTBOX_BACKLOG, SqlUnitOfWork
from phonegate.web.app import create_app
from tests.conftest import BASE_URL, Api
from tests.delivery.test_dispatcher import PHONE, enqueue_enrollment

TOKEN = "metrics-token-5f2c9a"
UK_PHONE = "+442079460123"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Exposition:
    """A parsed scrape: sample values by name and labels (0 when the series is absent)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def label_values(self, prefix: str = "phonegate_") -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for name, labels in self.samples:
            if name.startswith(prefix):
                for key, value in labels:
                    found.setdefault(key, set()).add(value)
        return found


async def scrape(client: httpx.AsyncClient, **headers: str) -> Exposition:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    return Exposition(r.text)


@sqlite_only
async def test_recorded_messages_and_latency_appear_in_the_exposition(
    client: httpx.AsyncClient, container: Container
) -> None:
    metrics = container.metrics
    before = await scrape(client)
    metrics.record_message("twilio", "sms", PHONE, "sent")
    metrics.record_message("twilio", "sms", PHONE, "sent")
    metrics.record_message("vonage", "voice", UK_PHONE, "retried")
    metrics.record_message(None, "sms", PHONE, "expired")
    metrics.observe_provider("twilio", "sms", "sent", 0.07)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    sent = {"provider": "twilio", "channel": "sms", "country": "US", "outcome": "sent"}
    assert delta("phonegate_messages_total", **sent) == 2
    retried = {"provider": "vonage", "channel": "voice", "country": "GB", "outcome": "retried"}
    assert delta("phonegate_messages_total", **retried) == 1
    expired = {"provider": NO_PROVIDER, "channel": "sms", "country": "US", "outcome": "expired"}
    assert delta("phonegate_messages_total", **expired) == 1

    call = {"provider": "twilio", "channel": "sms", "outcome": "sent"}
    assert delta("phonegate_provider_latency_seconds_count", **call) == 1
    assert delta("phonegate_provider_latency_seconds_sum", **call) == pytest.approx(0.07)
    assert delta("phonegate_provider_latency_seconds_bucket", **call, le="0.05") == 0
    assert delta("phonegate_provider_latency_seconds_bucket", **call, le="0.1") == 1
    bounds = {
        float(value)
        for name, labels in after.samples
        if name == "phonegate_provider_latency_seconds_bucket"
        for key, value in labels
        if key == "le"
    }
    assert bounds == {*LATENCY_BUCKETS, float("inf")}
    assert min(LATENCY_BUCKETS) == 0.05 and max(LATENCY_BUCKETS) == 30.0


@sqlite_only
async def test_verifications_refusals_and_budget_warnings_are_counted(
    client: httpx.AsyncClient, container: Container
) -> None:
    metrics = container.metrics
    before = await scrape(client)
    metrics.record_verification("enrollment", "success")
    metrics.record_verification("authentication", "wrong_code")
    metrics.record_verification("authentication", "wrong_code")
    metrics.record_refusal("destination")
    metrics.record_budget_warning()
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    name = "phonegate_verifications_total"
    assert delta(name, kind="enrollment", outcome="success") == 1
    assert delta(name, kind="authentication", outcome="wrong_code") == 2
    assert delta("phonegate_limit_refusals_total", limit="destination") == 1
    assert delta("phonegate_limit_refusals_total", limit="ip") == 0
    assert delta("phonegate_tenant_budget_warnings_total") == 1


@sqlite_only
async def test_unknown_label_values_are_folded_to_other(
    client: httpx.AsyncClient, container: Container
) -> None:
    metrics = container.metrics
    before = await scrape(client)
    metrics.record_message("my-own-vendor", "fax", "not a number", "vanished")
    metrics.record_message(PHONE, "sms", "+80012345678", "sent")  # non-geographic number
    metrics.observe_provider("twilio (fallback 1)", "pigeon", "timeout", 1.0)
    metrics.record_verification("magic_link", "guessed")
    metrics.record_refusal("moon_phase")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    folded = {"provider": OTHER, "channel": OTHER, "country": UNKNOWN_COUNTRY, "outcome": OTHER}
    assert delta("phonegate_messages_total", **folded) == 1
    numbered = {"provider": OTHER, "channel": "sms", "country": UNKNOWN_COUNTRY, "outcome": "sent"}
    assert delta("phonegate_messages_total", **numbered) == 1
    latency = {"provider": OTHER, "channel": OTHER, "outcome": OTHER}
    assert delta("phonegate_provider_latency_seconds_count", **latency) == 1
    assert delta("phonegate_verifications_total", kind=OTHER, outcome=OTHER) == 1
    assert delta("phonegate_limit_refusals_total", limit=OTHER) == 1
    # Whatever was recorded, every label stays inside its fixed set.
    labels = after.label_values()
    assert labels["channel"] <= CHANNELS | {OTHER}
    assert labels["outcome"] <= MESSAGE_OUTCOMES | ATTEMPT_OUTCOMES | VERIFICATION_OUTCOMES | {
        OTHER
    }
    assert labels["kind"] <= VERIFICATION_KINDS | {OTHER}
    assert labels["limit"] <= LIMITS | {OTHER}
    assert all(len(c) == 2 or c == UNKNOWN_COUNTRY for c in labels["country"])
    assert "my-own-vendor" not in after.text and "fallback" not in after.text


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(providers={"twilio"}), Metrics(providers={"twilio"})
    first.record_refusal("ip")
    assert first.registry.get_sample_value("phonegate_limit_refusals_total", {"limit": "ip"}) == 1
    assert (
        second.registry.get_sample_value("phonegate_limit_refusals_total", {"limit": "ip"}) is None
    )


@pytest.fixture
async def second_process(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """Another server process on the same database: its own container and app."""
    other = Container(container.settings, clock=container.clock)
    transport = httpx.ASGITransport(app=create_app(other, background=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            yield c
    finally:
        await other.aclose()


async def test_outbox_gauges_follow_the_queue_whichever_process_is_scraped(
    api: Api,
    client: httpx.AsyncClient,
    second_process: httpx.AsyncClient,
    container: Container,
    creds: Credentials,
    clock: FrozenClock,
) -> None:
    await api.enable_mfa(message_types=["sms", "voice"])
    empty = await scrape(client)
    assert empty.value("phonegate_outbox_pending", channel="sms") == 0
    assert empty.value("phonegate_outbox_oldest_pending_age_seconds") == 0

    await enqueue_enrollment(container, creds, "sms")
    clock.advance(30)
    await enqueue_enrollment(container, creds, "voice")
    clock.advance(12)
    for c in (client, second_process):
        queued = await scrape(c)
        assert queued.value("phonegate_outbox_pending", channel="sms") == 1
        assert queued.value("phonegate_outbox_pending", channel="voice") == 1
        assert queued.value("phonegate_outbox_oldest_pending_age_seconds") == 42

    assert await container.dispatcher.run_once() == 2
    for c in (client, second_process):
        drained = await scrape(c)
        assert drained.value("phonegate_outbox_pending", channel="sms") == 0
        assert drained.value("phonegate_outbox_pending", channel="voice") == 0
        assert drained.value("phonegate_outbox_oldest_pending_age_seconds") == 0


async def test_outbox_query_reads_the_due_index(container: Container) -> None:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        conn = uow.conn
        dialect = conn.dialect
        statement = str(
            OUTBOX_BACKLOG.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )
        if dialect.name == "sqlite":
            plan = (await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {statement}"))).all()
        else:
            # An empty table would be scanned whatever the indexes; ask whether it can use one.
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = (await conn.execute(sa.text(f"EXPLAIN {statement}"))).all()
    text = " ".join(str(column) for row in plan for column in row)
    assert "ix_outbox_due" in text, text


@sqlite_only
async def test_token_protects_the_endpoint_when_set(
    client: httpx.AsyncClient, container: Container
) -> None:
    await scrape(client)  # no token configured: open
    assert isinstance(container.settings, Settings)
    container.settings.metrics_token = SecretStr(TOKEN)
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in r.text and "phonegate_" not in r.text
    exposition = await scrape(client, authorization=f"Bearer {TOKEN}")
    assert TOKEN not in exposition.text


@sqlite_only
async def test_disabled_endpoint_is_not_found(
    client: httpx.AsyncClient, container: Container
) -> None:
    assert isinstance(container.settings, Settings)
    container.settings.metrics_enabled = False
    r = await client.get("/metrics")
    assert r.status_code == 404
    assert r.json() == (await client.get("/no-such-path")).json()


@sqlite_only
async def test_no_phone_number_or_code_reaches_the_exposition(
    api: Api, client: httpx.AsyncClient, container: Container
) -> None:
    await api.enable_mfa()
    await api.enrolled_user("bob@example.com", PHONE)
    code = await api.last_code(PHONE)
    metrics = container.metrics
    metrics.record_message("sandbox", "sms", PHONE, "sent")
    metrics.record_message(PHONE, PHONE, PHONE, PHONE)
    metrics.record_verification(code, code)
    metrics.record_refusal(PHONE)
    exposition = await scrape(client)
    assert PHONE not in exposition.text and PHONE[2:] not in exposition.text
    # Sample values are numbers (timestamps among them, which may hold any six digits);
    # text can only appear in names and labels.
    for name, labels in exposition.samples:
        assert code not in name
        assert all(code not in value and PHONE[2:] not in value for _, value in labels)


def test_multiprocess_mode_sums_counters_and_keeps_the_scraped_outbox_gauge(
    tmp_path: Path,
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, a scrape of any worker counts every worker's messages,
    and the outbox gauge is the scraped worker's fresh reading, not a sum of stale ones."""
    worker = textwrap.dedent(
        f"""
        import sys
        from datetime import UTC, datetime
        from phonegate.metrics import Metrics

        metrics = Metrics(providers={{"twilio"}})
        metrics.record_message("twilio", "sms", "{PHONE}", "sent")
        metrics.set_outbox({{"sms": int(sys.argv[1])}}, None, datetime.now(UTC))
        if "--scrape" in sys.argv:
            sys.stdout.write(metrics.exposition().decode())
        """
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": ""}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", worker, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    run("5")
    exposition = Exposition(run("1", "--scrape"))
    sent = {"provider": "twilio", "channel": "sms", "country": "US", "outcome": "sent"}
    assert exposition.value("phonegate_messages_total", **sent) == 2
    assert exposition.value("phonegate_outbox_pending", channel="sms") == 1


async def test_the_flows_record_sends_verifications_and_refusals(
    api: Api, client: httpx.AsyncClient
) -> None:
    """Not the recording functions this time: a real enrollment, a wrong code, a right code
    and a refused country, as the dispatcher, the mfa-oob grant and the limiter report them."""
    await api.enable_mfa()
    await api.create_user()
    await api.create_user("bob@example.com")
    token = await api.mfa_token()
    r = await api.associate(token)
    assert r.status_code == 200, r.text
    oob_code = r.json()["oob_code"]
    code = await api.last_code()
    wrong = "000000" if code != "000000" else "111111"
    assert (await api.oob_grant(token, oob_code, wrong)).status_code == 403
    assert (await api.oob_grant(token, oob_code, code)).status_code == 200
    r = await api.mgmt(
        "PATCH", "/attack-protection/phone-limits", json={"countries": {"sms": {"deny": ["GB"]}}}
    )
    assert r.status_code == 200, r.text
    refused = await api.associate(await api.mfa_token("bob@example.com"), phone=UK_PHONE)
    assert refused.status_code == 400, refused.text

    seen = await scrape(client)
    assert (
        seen.value(
            "phonegate_messages_total",
            provider="sandbox",
            channel="sms",
            country="US",
            outcome="sent",
        )
        >= 1
    )
    assert seen.value("phonegate_verifications_total", kind="enrollment", outcome="wrong_code") == 1
    assert seen.value("phonegate_verifications_total", kind="enrollment", outcome="success") == 1
    assert seen.value("phonegate_limit_refusals_total", limit="country") == 1
