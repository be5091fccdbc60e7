"""The work ceiling's sending: the provider and the send limits in the request's
transaction, the outbox row, and after the answer the delivery itself (claim and attempt,
the provider's POST, the send recorded), as phonegate's dispatcher does for each message."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import httpx

from bench.ceiling_db import PostgresDatabase, Row, SqliteDatabase
from bench.ceiling_flow import Flow, Outgoing, add_event
from bench.ceiling_sql import (
    ADD_ATTEMPT,
    ADD_MESSAGE,
    BLOCK,
    CLAIM,
    FINISH_ATTEMPT,
    MARK_SENT,
    PROVIDERS,
    TAKE,
    TEMPLATES,
)
from phonegate.keys import KeyRing

CODE_TTL = timedelta(hours=1)
LEASE = timedelta(seconds=30)
DAY = 86400


class Courier:
    def __init__(
        self, db: SqliteDatabase | PostgresDatabase, keys: KeyRing, http: httpx.AsyncClient
    ) -> None:
        self._db, self._keys, self._http = db, keys, http
        self._auth_tokens: dict[str, str] = {}  # by sealed credentials
        self._lease_token = secrets.token_hex(12)

    async def admit(self, flow: Flow, user: str, phone: str) -> Row:
        """The delivery chain and every send limit ``challenges.admit_send`` takes (with
        the benchmark tenant's limits); returns the provider."""
        providers = await flow.tx.rows(PROVIDERS, **flow.params())
        ten, ip = flow.tenant["id"], flow.request.ip
        await flow.tx.row(BLOCK, key=f"{ten}:ip-block:{ip}")
        for key, capacity, per_second in (
            (f"{ten}:ip-send:{ip}", 100000, 100000 / 60),
            (f"{ten}:user-send:{user}", 1000, 1 / 3600),
            (f"{ten}:number:{phone}", 10000, 10000 / 3600),
            (f"{ten}:prefix:1", 1000000, 1000000 / 3600),
            (f"{ten}:budget:{int(flow.epoch // DAY)}", 100000000, 0.0),
        ):
            await flow.tx.row(
                TAKE, key=key, capacity=float(capacity), rate=per_second, now=flow.epoch
            )
        return providers[0]

    async def queue(
        self, flow: Flow, code_id: str, user: str, phone: str, code: str, provider: Row
    ) -> None:
        """The text (the tenant's templates read, the built-in one used) and the outbox row."""
        await flow.tx.rows(TEMPLATES, **flow.params())
        text = f"{code} is your verification code for {flow.tenant['friendly_name']}"
        payload = {"text": text, "code": code, "locale": "en", "kind": "verification"}
        message = Outgoing(
            id="msg_" + secrets.token_urlsafe(16),
            tenant=flow.tenant["id"],
            phone=phone,
            sealed=self._keys.encrypt(json.dumps(payload)),
            provider=provider,
        )
        await flow.tx.run(
            ADD_MESSAGE,
            **flow.params(
                id=message.id,
                challenge=code_id,
                user=user,
                client=flow.app["client_id"],
                phone=phone,
                payload=message.sealed,
                expires=flow.now + CODE_TTL,
                ip=flow.request.ip,
            ),
        )
        flow.outgoing.append(message)

    async def deliver(self, messages: list[Outgoing]) -> None:
        for message in messages:
            attempt, now = "att_" + secrets.token_urlsafe(16), datetime.now(UTC)
            async with self._db.transaction() as tx:
                await tx.run(CLAIM, id=message.id, until=now + LEASE, token=self._lease_token)
                await tx.run(
                    ADD_ATTEMPT, id=attempt, tenant=message.tenant, message=message.id, now=now
                )
            sid = await self._post(message)
            async with self._db.transaction() as tx:
                now = datetime.now(UTC)
                await tx.run(
                    MARK_SENT, id=message.id, config=message.provider["id"], now=now, sid=sid
                )
                await tx.run(FINISH_ATTEMPT, id=attempt, now=now, sid=sid)
                await add_event(tx, message.tenant, now, "gd_send_sms")

    async def _post(self, message: Outgoing) -> str:
        """Twilio's Messages.json, as phonegate's twilio provider sends it."""
        plain = self._keys.decrypt(message.sealed)
        assert plain is not None
        row = message.provider
        config = row["configuration"]
        config = json.loads(config) if isinstance(config, str) else config
        sealed = row["credentials"]
        if sealed not in self._auth_tokens:
            opened = self._keys.decrypt(sealed)
            assert opened is not None
            self._auth_tokens[sealed] = json.loads(opened)["auth_token"]
        response = await self._http.post(
            f"{config['base_url']}/2010-04-01/Accounts/{config['sid']}/Messages.json",
            data={"To": message.phone, "From": config["from"], "Body": json.loads(plain)["text"]},
            auth=(config["sid"], self._auth_tokens[sealed]),
        )
        response.raise_for_status()
        sid: str = response.json()["sid"]
        return sid
