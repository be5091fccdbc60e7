"""The HTTP sink of a log stream (Auth0's custom webhook stream), in phonegate's wire format:

    POST <httpEndpoint>
    Content-Type: <httpContentType>
    Authorization: <httpAuthorization>                  (when set)
    <each of httpCustomHeaders>
    X-Phonegate-Signature: t=1718000000,v1=5f0c…        (providers/webhook.py's scheme)
    X-Phonegate-Batch: lst_…:<first log_id>             (the same on a retry)

    {"log_id": "…", "data": {"log_id": "…", "date": "2026-01-01T12:00:00.000Z", "type": …}}
    {"log_id": "…", "data": {…}}

JSONLINES sends one entry a line (as above), JSONARRAY one array of them, JSONOBJECT one entry
per request; each entry is Auth0's streamed shape, the log event under ``data``. Entries go
oldest first, at most 100 a batch. A receiver checks the signature over the raw body with
``phonegate.providers.webhook.verify_signature`` and may drop a batch id it has seen (a batch
is sent again when its first attempt was not answered with a 2xx). Any 2xx delivers the
batch; anything else, a timeout, a refused connection or a destination the outbound guard
refuses fails it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from phonegate.domain import events
from phonegate.domain.log_streams import StreamSecrets
from phonegate.domain.models import LogEvent, LogStream
from phonegate.outbound import BlockedDestination, GuardedTransport
from phonegate.providers import transport
from phonegate.providers.webhook import SIGNATURE_HEADER, sign

BATCH_HEADER = "X-Phonegate-Batch"
MAX_BATCH = 100
RESOLVE_TIMEOUT_SECONDS = 2.0


def log_entry(event: LogEvent) -> dict[str, Any]:
    """One event as a log stream carries it (Auth0's ``{"log_id", "data"}``)."""
    return {"log_id": event.log_id, "data": events.entry(event)}


def encode(content_format: str, events: Sequence[LogEvent]) -> bytes:
    entries = [log_entry(e) for e in events]
    if content_format == "JSONARRAY":
        return json.dumps(entries).encode()
    if content_format == "JSONOBJECT":
        (entry,) = entries  # one event per request
        return json.dumps(entry).encode()
    return "\n".join(json.dumps(e) for e in entries).encode()


def batch_id(stream: LogStream, events: Sequence[LogEvent]) -> str:
    return f"{stream.id}:{events[0].log_id}"


class HttpSink:
    """Sends a stream's batches through the shared guarded client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        stream: LogStream,
        secrets: StreamSecrets,
        *,
        timeout_seconds: float,
    ) -> None:
        self._http = http
        self._stream = stream
        self._secrets = secrets
        self._timeout = timeout_seconds
        self._url: str = stream.sink["httpEndpoint"]
        # Errors name the receiver's host: never the query string, which may hold a token.
        self._label = urlsplit(self._url).hostname or "the log stream receiver"

    @property
    def batch_size(self) -> int:
        return 1 if self._stream.sink["httpContentFormat"] == "JSONOBJECT" else MAX_BATCH

    async def send(self, events: Sequence[LogEvent]) -> None:
        """Deliver one batch; raises ``ProviderError`` saying why it was not delivered."""
        body = encode(self._stream.sink["httpContentFormat"], events)
        response = await transport.send(
            self._http,
            "POST",
            self._url,
            provider=self._label,
            timeout=self._timeout,
            content=body,
            headers=self._headers(body, batch_id(self._stream, events)),
        )
        transport.raise_for_status(response, provider=self._label)

    def _headers(self, body: bytes, batch: str) -> dict[str, str]:
        headers = {h["header"]: h["value"] for h in self._stream.sink["httpCustomHeaders"]}
        headers["Content-Type"] = self._stream.sink["httpContentType"]
        if self._secrets.authorization:
            headers["Authorization"] = self._secrets.authorization
        # Wall-clock time: the receiver compares it with its own clock.
        headers[SIGNATURE_HEADER] = sign(
            self._secrets.signing_secret, body, timestamp=int(time.time())
        )
        headers[BATCH_HEADER] = batch
        return headers


def _accept(_: httpx.Request) -> httpx.Response:
    return httpx.Response(204)


async def destination_refusal(url: str) -> str | None:
    """Why the outbound guard would refuse to send to ``url`` (a private address), or None.
    Asked when a stream is saved; the guard still checks every send, since DNS changes. A
    name that does not resolve now is not refused here: the send decides."""
    probe = GuardedTransport(httpx.MockTransport(_accept), allow_private=False)
    try:
        await asyncio.wait_for(
            probe.handle_async_request(httpx.Request("POST", url)), RESOLVE_TIMEOUT_SECONDS
        )
    except BlockedDestination as exc:
        return str(exc)
    except (httpx.ConnectError, TimeoutError):
        return None
    return None
