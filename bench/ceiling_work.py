"""Each scenario's irreducible work, written out once: the ceiling phonegate is measured
against.

Per request: the same rows phonegate reads and writes, in one transaction on the same
database (each distinct read once; SQL in ``bench.ceiling_sql``), the same cryptography
(the sealed mfa_token, the code's HMAC, the encrypted outbox payload, two RS256 signatures
per token answer, argon2id with phonegate's parameters), answers of the same shape, and the
same delivery after the answer (``bench.ceiling_delivery``). What is left out is what the
framework, the ORM and phonegate's own code add, which is what the ratio measures.

One deliberate difference: the password is checked before the transaction starts, so
SQLite's write lock is not held while argon2 runs (nothing requires it to be).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.ceiling_db import PostgresDatabase, Row, SqliteDatabase
from bench.ceiling_delivery import CODE_TTL, Courier
from bench.ceiling_flow import Answer, Flow, Refused, Request, sha256
from bench.ceiling_sql import (
    ADD_AUTHENTICATOR,
    ADD_CHALLENGE,
    ADD_RECOVERY,
    APP,
    AUTHENTICATOR,
    AUTHENTICATORS,
    CHALLENGE,
    CONFIRM,
    CONFIRM_RECOVERY,
    CONNECTION,
    CONSUME,
    COUNT_ATTEMPT,
    DROP_UNCONFIRMED,
    GIVE_BACK,
    PASSWORDLESS_CODE,
    RECORD_LOGIN,
    RECOVERY_CODES,
    REPLACE_PASSWORDLESS,
    REQUEST_FEEDBACK,
    TAKE,
    TENANT,
    TOUCH,
    USER,
    USER_BY_EMAIL,
    USER_BY_PHONE,
)
from phonegate.keys import KeyRing
from phonegate.passwords import Argon2Passwords
from phonegate.tokens import SigningKey, import_private_key, sign

MFA_PREFIX = "pgmfa."
GRANT_PASSWORD = "password"  # a grant type name
GRANT_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_OTP = "http://auth0.com/oauth/grant-type/passwordless/otp"
TOKEN_TTL = 86400
MFA_TOKEN_TTL = 600
Handler = Callable[[Flow], Awaitable[Answer]]


class Work:
    def __init__(
        self,
        db: SqliteDatabase | PostgresDatabase,
        keys: KeyRing,
        passwords: Argon2Passwords,
        http: httpx.AsyncClient,
    ) -> None:
        self._db, self._keys, self._passwords, self._http = db, keys, passwords, http
        self._courier = Courier(db, keys, http)
        self._signing: SigningKey | None = None

    async def load_signing_key(self) -> None:
        async with self._db.reading() as tx:
            found = await tx.row(
                "SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL"
            )
        assert found is not None
        self._signing = import_private_key(found["kid"], found["private_key"], self._keys)

    async def close(self) -> None:
        await self._db.close()
        await self._http.aclose()

    async def handle(self, request: Request) -> Answer:
        grant = request.body.get("grant_type") if request.path == "/oauth/token" else None
        if grant == GRANT_PASSWORD:
            return await self._password_grant(request)
        handlers: dict[tuple[str, Any], Handler] = {
            ("/mfa/challenge", None): self._challenge,
            ("/mfa/associate", None): self._associate,
            ("/passwordless/start", None): self._passwordless_start,
            ("/oauth/token", GRANT_OOB): self._oob_grant,
            ("/oauth/token", GRANT_OTP): self._otp_grant,
        }
        handler = handlers.get((request.path, grant))
        if handler is None:
            raise Refused(404, "not_found")
        return await self._in_transaction(request, handler)

    async def _in_transaction(self, request: Request, handler: Handler) -> Answer:
        """The tenant and the calling application, then the handler, in one transaction;
        the delivery of what it queued follows the answer."""
        async with self._db.transaction() as tx:
            tenant = await tx.row(TENANT, yes=True)
            assert tenant is not None
            flow = Flow(tx, datetime.now(UTC), tenant, request)
            body = request.body
            flow.app = await tx.row(APP, **flow.params(client=body.get("client_id", ""))) or {}
            secret = sha256(str(body.get("client_secret", "")))
            if not flow.app or not hmac.compare_digest(secret, flow.app["secret_hash"]):
                raise Refused(401, "access_denied")
            answer = await handler(flow)
        if flow.outgoing:
            answer.after = lambda: self._courier.deliver(flow.outgoing)
        return answer

    # -- the MFA API -----------------------------------------------------------------------

    async def _mfa_user(self, flow: Flow, token: object) -> dict[str, Any]:
        """The user of a sealed mfa_token (phonegate's Fernet envelope)."""
        plain = (
            self._keys.decrypt(token.removeprefix(MFA_PREFIX))
            if isinstance(token, str) and token.startswith(MFA_PREFIX)
            else None
        )
        if plain is None:
            raise Refused(403, "invalid_grant")
        txn: dict[str, Any] = json.loads(plain)
        flow.user = await flow.tx.row(USER, **flow.params(user=txn["user_id"]))
        if flow.user is None:
            raise Refused(403, "invalid_grant")
        return txn

    async def _challenge(self, flow: Flow) -> Answer:
        await self._mfa_user(flow, flow.request.body.get("mfa_token"))
        assert flow.user is not None
        auths = await flow.tx.rows(AUTHENTICATORS, **flow.params(user=flow.user["user_id"]))
        auth = next(a for a in auths if a["confirmed"])
        oob = await self._send_code(flow, auth["id"], auth["phone_number"], "authentication")
        await flow.event("gd_start_auth")
        return Answer(200, {"challenge_type": "oob", "oob_code": oob, "binding_method": "prompt"})

    async def _associate(self, flow: Flow) -> Answer:
        await self._mfa_user(flow, flow.request.authorization.removeprefix("Bearer "))
        assert flow.user is not None
        user, phone = flow.user["user_id"], str(flow.request.body["phone_number"])
        await flow.tx.rows(AUTHENTICATORS, **flow.params(user=user))
        for table in ("phone_authenticators", "recovery_codes"):
            await flow.tx.run(DROP_UNCONFIRMED.format(table=table), **flow.params(user=user))
        auth_id = "dev_" + secrets.token_urlsafe(12)
        await flow.tx.run(ADD_AUTHENTICATOR, **flow.params(id=auth_id, user=user, phone=phone))
        await flow.tx.rows(RECOVERY_CODES, **flow.params(user=user))
        recovery, recovery_id = secrets.token_hex(12).upper(), "dev_" + secrets.token_urlsafe(12)
        digest = sha256(f"{user}:{recovery}")
        await flow.tx.run(ADD_RECOVERY, **flow.params(id=recovery_id, user=user, hash=digest))
        oob = await self._send_code(flow, auth_id, phone, "enrollment", recovery_id)
        await flow.event("gd_start_enroll")
        answer = {"authenticator_type": "oob", "binding_method": "prompt", "oob_channel": "sms"}
        return Answer(200, {**answer, "oob_code": oob, "recovery_codes": [recovery]})

    async def _send_code(
        self, flow: Flow, auth_id: str, phone: str, kind: str, recovery_id: str | None = None
    ) -> str:
        assert flow.user is not None
        provider = await self._courier.admit(flow, flow.user["user_id"], phone)
        code = f"{secrets.randbelow(10**6):06d}"
        challenge_id, oob = "ch_" + secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        await flow.tx.run(
            ADD_CHALLENGE,
            **flow.params(
                id=challenge_id,
                user=flow.user["user_id"],
                client=flow.app["client_id"],
                authenticator=auth_id,
                kind=kind,
                oob=sha256(oob),
                hash=self._keys.mac("otp", f"{challenge_id}:{code}"),
                key_id=self._keys.current_id,
                expires=flow.now + CODE_TTL,
                recovery=recovery_id,
            ),
        )
        await self._courier.queue(flow, challenge_id, flow.user["user_id"], phone, code, provider)
        return oob

    async def _oob_grant(self, flow: Flow) -> Answer:
        body = flow.request.body
        txn = await self._mfa_user(flow, body.get("mfa_token"))
        assert flow.user is not None
        challenge = await flow.tx.row(CHALLENGE, **flow.params(oob=sha256(body["oob_code"])))
        if challenge is None:
            raise Refused(403, "invalid_grant")
        auth = await flow.tx.row(AUTHENTICATOR, **flow.params(id=challenge["authenticator_id"]))
        assert auth is not None
        await self._use_code(flow, "challenges", challenge, str(body.get("binding_code", "")))
        if challenge["kind"] == "enrollment":
            await flow.tx.run(CONFIRM, **flow.params(id=auth["id"]))
            await flow.tx.run(CONFIRM_RECOVERY, **flow.params(id=challenge["recovery_code_id"]))
        else:
            await flow.tx.run(TOUCH, **flow.params(id=auth["id"]))
        await flow.tx.run(REQUEST_FEEDBACK, **flow.params(challenge=challenge["id"]))
        for event in ("gd_auth_succeed", "s", "seoobft"):
            await flow.event(event)
        await flow.tx.run(RECORD_LOGIN, **flow.params(user=flow.user["user_id"]))
        return Answer(200, self._tokens(flow, txn["scope"], ["mfa"]))

    async def _use_code(self, flow: Flow, table: str, row: Row, candidate: str) -> None:
        """A single-use code's guarded attempt, the user's wrong-code budget (taken before the
        compare, given back on a match), the constant-time compare and the guarded consume."""
        assert flow.user is not None
        if not await flow.tx.run(COUNT_ATTEMPT.format(table=table), **flow.params(id=row["id"])):
            raise Refused(403, "invalid_grant")
        key = f"{flow.tenant['id']}:wrong-code:{flow.user['user_id']}"
        bucket = {"key": key, "capacity": 1000.0, "rate": 1 / 360, "now": flow.epoch}
        await flow.tx.row(TAKE, **bucket)
        bound = f"{row['id']}:{candidate}"
        if not self._keys.verify_mac("otp", bound, row["key_id"], row["code_hash"]):
            raise Refused(403, "invalid_grant")
        await flow.tx.run(GIVE_BACK, **bucket)
        if not await flow.tx.run(CONSUME.format(table=table), **flow.params(id=row["id"])):
            raise Refused(403, "invalid_grant")

    # -- the first factor and passwordless -------------------------------------------------

    async def _password_grant(self, request: Request) -> Answer:
        """argon2 first, on the hash read without the write lock; then the transaction."""
        email = str(request.body.get("username", "")).lower()
        async with self._db.reading() as tx:
            tenant = await tx.row(TENANT, yes=True)
            assert tenant is not None
            found = await tx.row(USER_BY_EMAIL, tenant=tenant["id"], email=email)
        password = str(request.body.get("password", ""))
        if found is None or not await self._passwords.verify(found["password_hash"], password):
            raise Refused(403, "invalid_grant")

        async def mfa_required(flow: Flow) -> Answer:
            flow.user = await flow.tx.row(USER_BY_EMAIL, **flow.params(email=email))
            assert flow.user is not None
            await flow.tx.rows(AUTHENTICATORS, **flow.params(user=flow.user["user_id"]))
            await flow.event("mfar")
            txn = {
                "tenant_id": flow.tenant["id"],
                "user_id": flow.user["user_id"],
                "client_id": flow.app["client_id"],
                "audience": "",
                "scope": str(request.body.get("scope", "")),
                "realm": None,
                "issued_at": flow.epoch,
                "expires_at": flow.epoch + MFA_TOKEN_TTL,
            }
            token = MFA_PREFIX + self._keys.encrypt(json.dumps(txn, separators=(",", ":")))
            description = "Multifactor authentication required"
            body = {"error": "mfa_required", "error_description": description, "mfa_token": token}
            return Answer(403, body)

        return await self._in_transaction(request, mfa_required)

    async def _passwordless_start(self, flow: Flow) -> Answer:
        phone = str(flow.request.body["phone_number"])
        ip_bucket = f"{flow.tenant['id']}:ip-passwordless:{flow.request.ip}"
        await flow.tx.row(TAKE, key=ip_bucket, capacity=1e5, rate=1e5 / 3600, now=flow.epoch)
        connection = await flow.tx.row(CONNECTION, **flow.params(name="sms"))
        assert connection is not None
        flow.user = await flow.tx.row(USER_BY_PHONE, **flow.params(connection="sms", phone=phone))
        assert flow.user is not None
        where = flow.params(connection=connection["id"], phone=phone)
        await flow.tx.row(PASSWORDLESS_CODE, **where)
        provider = await self._courier.admit(flow, flow.user["user_id"], phone)
        code, code_id = f"{secrets.randbelow(10**6):06d}", secrets.token_hex(12)
        await flow.tx.run(
            REPLACE_PASSWORDLESS,
            **where,
            id=code_id,
            user=flow.user["user_id"],
            client=flow.app["client_id"],
            hash=self._keys.mac("otp", f"{code_id}:{code}"),
            key_id=self._keys.current_id,
            expires=flow.now + CODE_TTL,
        )
        await self._courier.queue(flow, code_id, flow.user["user_id"], phone, code, provider)
        await flow.event("cs")
        started = {"_id": code_id, "phone_number": phone, "phone_verified": True}
        return Answer(200, {**started, "request_language": "en"})

    async def _otp_grant(self, flow: Flow) -> Answer:
        body = flow.request.body
        connection = await flow.tx.row(CONNECTION, **flow.params(name=body.get("realm", "")))
        assert connection is not None
        phone = str(body.get("username", ""))
        where = flow.params(connection=connection["id"], phone=phone)
        record = await flow.tx.row(PASSWORDLESS_CODE, **where)
        flow.user = await flow.tx.row(USER_BY_PHONE, **flow.params(connection="sms", phone=phone))
        if record is None or flow.user is None:
            raise Refused(403, "invalid_grant")
        await self._use_code(flow, "passwordless_codes", record, str(body.get("otp", "")))
        await flow.tx.run(REQUEST_FEEDBACK, **flow.params(challenge=record["id"]))
        await flow.tx.run(RECORD_LOGIN, **flow.params(user=flow.user["user_id"]))
        await flow.event("s")
        return Answer(200, self._tokens(flow, str(body.get("scope", "")), ["sms"]))

    def _tokens(self, flow: Flow, scope: str, amr: list[str]) -> dict[str, Any]:
        """An access token and an ID token, RS256, as phonegate answers the grant."""
        assert self._signing is not None and flow.user is not None
        user, iat, issuer = flow.user, int(flow.epoch), f"http://{flow.request.host}/"
        common = {"iss": issuer, "sub": user["user_id"], "iat": iat}
        access = {"aud": [issuer + "userinfo"], "exp": iat + TOKEN_TTL, "scope": scope}
        identity = {
            "aud": flow.app["client_id"],
            "exp": iat + 36000,
            "email": user["email"],
            "email_verified": bool(user["email_verified"]),
            "name": user["name"],
            "nickname": user["nickname"],
            "updated_at": str(user["updated_at"]),
            "amr": amr,
        }
        return {
            "access_token": sign({**common, **access, "azp": flow.app["client_id"]}, self._signing),
            "id_token": sign({**common, **identity}, self._signing),
            "expires_in": TOKEN_TTL,
            "token_type": "Bearer",
            "scope": scope,
        }
