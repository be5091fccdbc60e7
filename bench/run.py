"""``make bench``: measure the hot paths and write docs/benchmarks.md.

Scenarios (all on this machine, loopback only, bounded in count and time):
- otp: keyed hashing and constant-time checks per second (pure CPU);
- challenge round trip: POST /mfa/challenge + mfa-oob grant through the real ASGI app on a
  real database (SQLite; PostgreSQL too when PHONEGATE_TEST_DATABASE_URL is set), with
  ``concurrency`` clients in flight, reporting throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from phonegate import otp
from phonegate.bootstrap import bootstrap
from phonegate.container import Container
from phonegate.keys import KeyRing
from phonegate.settings import Settings
from phonegate.storage.migrate import upgrade
from phonegate.web.app import create_app

USERS = 20
ROUNDS_PER_USER = 10
CONCURRENCY = 10


def bench_otp(seconds: float = 2.0) -> dict[str, float]:
    keys = KeyRing([secrets.token_bytes(32)])
    stored = otp.hash_code(keys, "123456", "ch_bench")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        otp.check_code(keys, "123457", "ch_bench", stored)
        n += 1
    checks = n / (time.perf_counter() - start)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        otp.hash_code(keys, otp.new_code(), "ch_bench")
        n += 1
    return {"checks_per_s": checks, "issues_per_s": n / (time.perf_counter() - start)}


async def _flow(database_url: str, data_dir: Path) -> dict[str, Any]:
    settings = Settings(
        env="test",
        database_url=database_url,
        data_dir=data_dir,
        secret_keys=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )
    async with Container(settings) as c:
        creds = await bootstrap(c)
        app = create_app(c, background=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as http:
            auth = {"client_id": creds.client_id, "client_secret": creds.client_secret}
            r = await http.post(
                "/oauth/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": creds.management_client_id,
                    "client_secret": creds.management_client_secret,
                    "audience": "https://bench.test/api/v2/",
                },
            )
            mgmt = {"authorization": f"Bearer {r.json()['access_token']}"}
            await http.put("/api/v2/guardian/factors/sms", headers=mgmt, json={"enabled": True})
            await http.put("/api/v2/guardian/policies", headers=mgmt, json=["all-applications"])

            last_seen: dict[str, str] = {}

            async def code(phone: str) -> str:
                # Delivery runs after the response; poll for this phone's next message.
                for _ in range(1000):
                    r = await http.get(
                        "/api/v2/sandbox/messages",
                        headers=mgmt,
                        params={"recipient": phone, "limit": 1},
                    )
                    latest = r.json()
                    if latest and latest[0]["id"] != last_seen.get(phone):
                        last_seen[phone] = latest[0]["id"]
                        value: str = latest[0]["code"]
                        return value
                    await asyncio.sleep(0.005)
                raise RuntimeError("no code delivered")

            tokens: list[tuple[str, str]] = []
            for i in range(USERS):
                email, phone = f"bench{i}@example.com", f"+1415555{i:04d}"
                await http.post(
                    "/api/v2/users",
                    headers=mgmt,
                    json={
                        "connection": "Username-Password-Authentication",
                        "email": email,
                        "password": "bench password",
                    },
                )
                r = await http.post(
                    "/oauth/token",
                    json={
                        "grant_type": "password",
                        "username": email,
                        "password": "bench password",
                        **auth,
                    },
                )
                token = r.json()["mfa_token"]
                r = await http.post(
                    "/mfa/associate",
                    headers={"authorization": f"Bearer {token}"},
                    json={
                        **auth,
                        "authenticator_types": ["oob"],
                        "oob_channels": ["sms"],
                        "phone_number": phone,
                    },
                )
                r = await http.post(
                    "/oauth/token",
                    json={
                        "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
                        **auth,
                        "mfa_token": token,
                        "oob_code": r.json()["oob_code"],
                        "binding_code": await code(phone),
                    },
                )
                assert r.status_code == 200, r.text
                tokens.append((token, phone))

            latencies: list[float] = []
            errors = 0
            sem = asyncio.Semaphore(CONCURRENCY)

            async def rounds(token: str, phone: str) -> None:
                # One user's rounds run in sequence (a user reads their latest code);
                # the users run side by side.
                async with sem:
                    for _ in range(ROUNDS_PER_USER):
                        await round_trip(token, phone)

            async def round_trip(token: str, phone: str) -> None:
                nonlocal errors
                start = time.perf_counter()
                r = await http.post(
                    "/mfa/challenge", json={**auth, "mfa_token": token, "challenge_type": "oob"}
                )
                r = await http.post(
                    "/oauth/token",
                    json={
                        "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
                        **auth,
                        "mfa_token": token,
                        "oob_code": r.json()["oob_code"],
                        "binding_code": await code(phone),
                    },
                )
                latencies.append(time.perf_counter() - start)
                errors += r.status_code != 200

            start = time.perf_counter()
            await asyncio.gather(*(rounds(t, p) for t, p in tokens))
            elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "round_trips": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    print("otp …", flush=True)
    otp_result = bench_otp()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        upgrade(f"sqlite+aiosqlite:///{db}")
        print("challenge round trip on SQLite …", flush=True)
        results["SQLite"] = asyncio.run(_flow(f"sqlite+aiosqlite:///{db}", Path(tmp)))
        pg = os.environ.get("PHONEGATE_TEST_DATABASE_URL")
        if pg:
            print("challenge round trip on PostgreSQL …", flush=True)
            from tests.conftest import truncate_all

            upgrade(pg)
            asyncio.run(truncate_all(pg))
            results["PostgreSQL"] = asyncio.run(_flow(pg, Path(tmp)))
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); numbers from the last run on "
        f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "## One-time codes (CPU only)",
        "",
        "| operation | per second |",
        "|---|---|",
        f"| issue (generate + HMAC) | {otp_result['issues_per_s']:,.0f} |",
        f"| check (HMAC + constant-time compare) | {otp_result['checks_per_s']:,.0f} |",
        "",
        "## MFA challenge round trip",
        "",
        f"`POST /mfa/challenge` → read the code from the sandbox inbox → `mfa-oob` grant (tokens signed), "
        f"through the ASGI app in one process, {USERS} enrolled users x {ROUNDS_PER_USER} rounds each, "
        f"{CONCURRENCY} users in flight. Each round trip includes the outbox delivery into the sandbox.",
        "",
        "| database | round trips | errors | per second | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['round_trips']} | {r['errors']} | {r['per_s']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p95_ms']:.1f} | {r['max_ms']:.1f} |"
        )
    lines += [
        "",
        "Multi-process and HTTP-level load scenarios come with the scale work (issue 7).",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
