"""The log stream shipper against a real HTTP receiver: every event exactly once per delivery
attempt and in log_id order, through outages (with duplicates only where a batch was sent
again, named by its batch header), signatures a receiver can check, suspension and resume,
and two shippers on one database never sending the same batch at once."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.logstream.shipper import Shipper
from phonegate.outbound import outbound_client
from phonegate.providers.webhook import SIGNATURE_HEADER, verify_signature
from tests.conftest import Api
from tests.fakes.log_receiver import Batch, LogReceiver
from tests.logstream.conftest import (
    AUTHORIZATION,
    add_events,
    create_stream,
    cursor,
    ship,
    stored_after,
    tenant_id,
)


def first_attempts(batches: list[Batch]) -> list[str]:
    """The log_ids delivered, each batch counted once (a receiver drops a batch id it saw)."""
    seen: set[str] = set()
    log_ids: list[str] = []
    for batch in batches:
        if batch.batch_id not in seen:
            seen.add(batch.batch_id)
            log_ids.extend(batch.log_ids)
    return log_ids


def assert_batches_well_formed(batches: list[Batch], stream_id: str) -> None:
    for batch in batches:
        assert 1 <= len(batch.entries) <= 100
        assert batch.batch_id == f"{stream_id}:{batch.entries[0]['log_id']}"
        assert all(e["data"]["log_id"] == e["log_id"] for e in batch.entries)


async def test_every_event_once_and_in_order(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(api, receiver)
    tenant = await tenant_id(container)
    start = await cursor(container, tenant, stream["id"])
    await api.enable_mfa()
    await api.enrolled_user()  # enrollment, MFA login: gd_*, seoobft, sapi …
    await add_events(container, tenant, "gd_send_voice", 230)

    delivered = await ship(container, clock)

    expected = await stored_after(container, tenant, start)
    got = [e["log_id"] for e in receiver.events]
    assert got == expected and delivered == len(expected) > 230
    assert len(set(got)) == len(got)
    assert {"gd_start_enroll", "gd_enrollment_complete", "seoobft", "sapi"} <= {
        e["data"]["type"] for e in receiver.events
    }
    assert len(receiver.batches) >= 3  # at most 100 events a batch
    assert_batches_well_formed(receiver.batches, stream["id"])
    first = receiver.batches[0]
    assert first.headers["authorization"] == AUTHORIZATION
    assert first.headers["content-type"] == "application/json"
    assert len(first.body.splitlines()) == len(first.entries)  # JSON lines

    assert await ship(container, clock) == 0  # nothing twice
    assert [e["log_id"] for e in receiver.events] == expected


async def test_outage_loses_nothing_and_marks_retried_batches(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(api, receiver)
    tenant = await tenant_id(container)
    start = await cursor(container, tenant, stream["id"])
    await add_events(container, tenant, "gd_send_sms", 120)
    await ship(container, clock)

    receiver.stop()  # connections refused
    await add_events(container, tenant, "gd_send_sms_failure", 40)
    await ship(container, clock)
    r = await api.mgmt("GET", f"/log-streams/{stream['id']}")
    delivery = r.json()["delivery"]
    assert r.json()["status"] == "active" and delivery["failures"] == 1
    assert "could not be reached" in delivery["lastError"]
    assert await ship(container, clock) == 0  # backing off: not tried yet

    receiver.start()
    receiver.fail_next(500)  # still broken at the next attempt
    clock.advance(10)
    await ship(container, clock)
    receiver.lose_answers(1)  # the next batch is stored, but its answer never comes
    await add_events(container, tenant, "gd_send_voice", 150)
    clock.advance(20)
    await ship(container, clock)
    clock.advance(40)
    await ship(container, clock)

    expected = await stored_after(container, tenant, start)
    assert first_attempts(receiver.batches) == expected
    ids = [b.batch_id for b in receiver.batches]
    retried = {i for i in ids if ids.count(i) > 1}
    assert len(retried) == 1  # the batch whose answer was lost, and only it
    first, again = [b for b in receiver.batches if b.batch_id in retried]
    assert first.log_ids == again.log_ids and len(first.log_ids) == 100
    assert_batches_well_formed(receiver.batches, stream["id"])
    r = await api.mgmt("GET", f"/log-streams/{stream['id']}")
    assert r.json()["delivery"] == {"failures": 0, "lastError": None, "nextAttemptAt": None}


async def test_a_tampered_batch_fails_verification(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(api, receiver)
    await add_events(container, await tenant_id(container), "gd_send_voice", 3)
    await ship(container, clock)
    (batch,) = receiver.batches
    secret = receiver.secrets[stream["id"]]
    signature = batch.headers[SIGNATURE_HEADER.lower()]
    assert verify_signature(secret, signature, batch.body, now=time.time())
    tampered = batch.body.replace(b"gd_send_voice", b"gd_send_sms_")
    assert not verify_signature(secret, signature, tampered, now=time.time())

    headers = {k: v for k, v in batch.headers.items() if k not in ("content-length", "host")}
    async with httpx.AsyncClient() as http:
        r = await http.post(receiver.endpoint, content=tampered, headers=headers)
    assert r.status_code == 401 and r.json() == {"error": "invalid signature"}
    assert len(receiver.batches) == 1


async def test_filters_format_and_custom_headers(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(
        api,
        receiver,
        sink={
            "httpContentFormat": "JSONARRAY",
            "httpContentType": "application/vnd.siem+json",
            "httpCustomHeaders": [{"header": "X-Source", "value": "phonegate"}],
        },
        filters=[{"type": "category", "name": "user.notification"}],
    )
    tenant = await tenant_id(container)
    await add_events(container, tenant, "gd_send_voice", 2)
    await add_events(container, tenant, "fp", 2)
    await add_events(container, tenant, "gd_send_sms_failure", 1)
    await ship(container, clock)
    (batch,) = receiver.batches
    assert isinstance(json.loads(batch.body), list)
    assert [e["data"]["type"] for e in batch.entries] == ["gd_send_voice"] * 2 + [
        "gd_send_sms_failure"
    ]
    assert batch.headers["content-type"] == "application/vnd.siem+json"
    assert batch.headers["x-source"] == "phonegate"
    assert batch.batch_id.startswith(stream["id"] + ":")


async def test_json_object_sends_one_event_a_request(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    await create_stream(
        api,
        receiver,
        sink={"httpContentFormat": "JSONOBJECT"},
        filters=[{"type": "category", "name": "guardian"}],
    )
    await add_events(container, await tenant_id(container), "gd_send_voice", 3)
    await ship(container, clock)
    assert [len(b.entries) for b in receiver.batches] == [1, 1, 1]
    assert all(isinstance(json.loads(b.body), dict) for b in receiver.batches)


async def test_suspended_after_repeated_failures_and_resumed(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(api, receiver)
    tenant = await tenant_id(container)
    await add_events(container, tenant, "gd_send_voice", 5)
    receiver.authorization = "Bearer rotated-by-the-receiver"  # every batch answers 401
    for _ in range(10):
        await ship(container, clock)
        clock.advance(3600)
    assert len(receiver.received) == 10 and not receiver.batches

    r = await api.mgmt("GET", f"/log-streams/{stream['id']}")
    body = r.json()
    assert body["status"] == "suspended" and body["delivery"]["failures"] == 10
    assert "answered HTTP 401" in body["delivery"]["lastError"]
    assert AUTHORIZATION not in r.text
    async with container.unit_of_work() as uow:
        (notice,) = await uow.events.list(tenant, type_="pg_log_stream_suspended")
    assert notice.details["stream_id"] == stream["id"] and notice.details["failures"] == 10
    assert AUTHORIZATION not in json.dumps(notice.details) + notice.description

    await ship(container, clock)
    assert len(receiver.received) == 10  # suspended: not tried

    receiver.authorization = AUTHORIZATION
    r = await api.mgmt("PATCH", f"/log-streams/{stream['id']}", json={"status": "active"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["delivery"]["failures"] == 0
    await ship(container, clock)
    types = [e["data"]["type"] for e in receiver.events]
    assert types.count("gd_send_voice") == 5 and "pg_log_stream_suspended" in types


async def test_refused_destinations_and_timeouts_are_failures(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    stream = await create_stream(api, receiver)
    tenant = await tenant_id(container)
    start = await cursor(container, tenant, stream["id"])
    await add_events(container, tenant, "gd_send_voice", 2)
    guarded = outbound_client(allow_private=False)
    try:
        strict = Shipper(container.unit_of_work, guarded, container.keys, clock)
        await ship(container, clock, strict)
    finally:
        await guarded.aclose()
    r = await api.mgmt("GET", f"/log-streams/{stream['id']}")
    assert "is not a public address" in r.json()["delivery"]["lastError"]
    assert not receiver.received

    receiver.hang_next()
    hasty = Shipper(
        container.unit_of_work, container.http, container.keys, clock, timeout_seconds=0.3
    )
    clock.advance(3600)
    await ship(container, clock, hasty)
    r = await api.mgmt("GET", f"/log-streams/{stream['id']}")
    assert r.json()["delivery"]["failures"] == 2
    assert "did not answer within 0.3 s" in r.json()["delivery"]["lastError"]
    clock.advance(3600)
    await ship(container, clock)
    assert [e["log_id"] for e in receiver.events] == await stored_after(container, tenant, start)


async def test_two_shippers_never_send_one_batch_twice(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    streams = [await create_stream(api, receiver, name=f"siem {n}") for n in range(4)]
    tenant = await tenant_id(container)
    starts = [await cursor(container, tenant, s["id"]) for s in streams]
    await add_events(container, tenant, "gd_send_voice", 150)
    receiver.delay = 0.2  # sends overlap, even on a loaded machine
    async with Container(container.settings, clock=clock) as other:
        await tenant_id(other)  # its pool is connected before the race starts
        # One stream a claim, so both shippers find work while the other is sending.
        shippers = [
            Shipper(c.unit_of_work, c.http, c.keys, clock, claim_limit=1)
            for c in (container, other)
        ]
        clock.advance(6)
        counts = await asyncio.gather(*(s.run_once() for s in shippers))
    assert all(counts)  # both shippers delivered
    ids = [b.batch_id for b in receiver.batches]
    assert len(ids) == len(set(ids))
    for stream, start in zip(streams, starts, strict=True):
        mine = [b for b in receiver.batches if b.batch_id.startswith(stream["id"] + ":")]
        got = [log_id for b in mine for log_id in b.log_ids]
        assert got == await stored_after(container, tenant, start)


async def test_concurrent_claims_never_share_a_stream(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    for n in range(3):
        await create_stream(api, receiver, name=f"siem {n}")

    async def claim(c: Container) -> set[str]:
        async with c.unit_of_work() as uow:
            return {s.id for s in await uow.log_streams.claim_due(clock.now(), 60, 1)}

    async with Container(container.settings, clock=clock) as other:
        for _ in range(20):  # a race needs several tries to show
            clock.advance(120)  # every earlier lease has lapsed
            mine, theirs = await asyncio.gather(claim(container), claim(other))
            assert (mine or theirs) and not mine & theirs


async def test_a_stream_lost_to_another_shipper_does_not_end_the_claim(
    api: Api, container: Container, clock: FrozenClock, receiver: LogReceiver
) -> None:
    ids = sorted([(await create_stream(api, receiver, name=f"siem {n}"))["id"] for n in range(2)])

    async def claim(c: Container) -> list[str]:
        async with c.unit_of_work() as uow:
            return [s.id for s in await uow.log_streams.claim_due(clock.now(), 60, 1)]

    async with Container(container.settings, clock=clock) as other:
        async with other.unit_of_work() as uow:
            won = [s.id for s in await uow.log_streams.claim_due(clock.now(), 60, 1)]
            # This claim meets the first stream taken (or waits on it) and must move on.
            racing = asyncio.create_task(claim(container))
            await asyncio.sleep(0.3)
        assert won == ids[:1]
        assert await racing == ids[1:]
