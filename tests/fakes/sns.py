"""Amazon SNS fake: the real moto server, behind a front that does what moto does not.

moto (providers-wire.md §4) answers the Query API faithfully and records every SMS, but it
checks no signature and never throttles. The front verifies SigV4 the way AWS does (recomputed
with botocore from the request as received), applies the base controls in AWS's XML error
shape, refuses magic numbers with ``InvalidParameter``, and relays everything else to moto.

    with SnsFake(access_key_id=KEY, secret_access_key=SECRET) as fake:
        ...
        fake.sms_messages()   # what moto recorded: [{"phone_number", "message", "message_id"}]
"""

from __future__ import annotations

import hmac
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, Received

XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
# Numbers the fake refuses the way SNS refuses a number it will not publish to.
INVALID_NUMBER = "+15005550001"

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
_SKEW = timedelta(minutes=15)
_FORCED: dict[int, tuple[str, str, str]] = {
    400: ("Sender", "Throttling", "Rate exceeded"),
    403: ("Sender", "AuthorizationError", "User is not authorized to perform: SNS:Publish"),
    500: ("Receiver", "InternalError", "Internal Error"),
    503: ("Receiver", "ServiceUnavailable", "Service is unavailable"),
}


def aws_error(status: int, kind: str, code: str, message: str) -> Response:
    body = (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(body, status_code=status, media_type="text/xml")


class SnsFake(FakeServer):
    def __init__(
        self,
        *,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.region = region
        self.magic: dict[str, str] = {
            INVALID_NUMBER: f"Invalid parameter: PhoneNumber Reason: {INVALID_NUMBER} "
            "is not valid to publish to"
        }
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto_url = ""

    def error_response(self, status: int) -> Response:
        kind, code, message = _FORCED.get(status, ("Receiver", "InternalError", "forced failure"))
        return aws_error(status, kind, code, message)

    # -- what a test reads -----------------------------------------------------------------

    def sms_messages(self) -> list[dict[str, str]]:
        """Every SMS moto published, oldest first."""
        data = httpx.get(f"{self.moto_url}/moto-api/data.json", trust_env=False).json()
        # moto lists a service only once something has used it.
        messages: list[dict[str, str]] = data.get("sns", {}).get("SMS", [])
        return messages

    def reset(self) -> None:
        super().reset()
        httpx.post(f"{self.moto_url}/moto-api/reset", trust_env=False).raise_for_status()

    # -- the front -------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [Route("/", self._publish, methods=["POST"])]

    async def _publish(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        refusal = self._check_signature(request, entry)
        if refusal is not None:
            return refusal
        phone = entry.params.get("PhoneNumber", "")
        if phone in self.magic:
            return aws_error(400, "Sender", "InvalidParameter", self.magic[phone])
        forwarded = {
            name: value
            for name, value in entry.headers.items()
            if name in ("content-type", "authorization", "x-amz-date", "x-amz-security-token")
        }
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(f"{self.moto_url}/", content=entry.body, headers=forwarded)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    def _check_signature(self, request: Request, entry: Received) -> Response | None:
        auth = _AUTHORIZATION.fullmatch(entry.headers.get("authorization", ""))
        if auth is None:
            return aws_error(
                403,
                "Sender",
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        if auth["key"] != self.access_key_id or (
            self.session_token is not None
            and entry.headers.get("x-amz-security-token") != self.session_token
        ):
            return aws_error(
                403,
                "Sender",
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        if auth["region"] != self.region or auth["service"] != "sns":
            return aws_error(
                403,
                "Sender",
                "SignatureDoesNotMatch",
                f"Credential should be scoped to a valid region, not '{auth['region']}'.",
            )
        stamp = entry.headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            signed_at = None
        if signed_at is None or abs(datetime.now(UTC) - signed_at) > _SKEW:
            return aws_error(
                403, "Sender", "SignatureDoesNotMatch", f"Signature expired: {stamp} is not now"
            )
        expected, canonical = self._signature(request, entry, auth["signed"].split(";"), stamp)
        if not hmac.compare_digest(expected, auth["signature"]):
            # Like AWS, append the canonical request: a provider must not echo it.
            return aws_error(
                403,
                "Sender",
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details.\n\nThe Canonical String for this request "
                f"should have been\n'{canonical}'\n",
            )
        return None

    def _signature(
        self, request: Request, entry: Received, signed: list[str], stamp: str
    ) -> tuple[str, str]:
        headers: dict[str, Any] = {name: entry.headers.get(name, "") for name in signed}
        url = f"{self.url}{entry.path}" + (f"?{request.url.query}" if request.url.query else "")
        rebuilt = AWSRequest(method=entry.method, url=url, data=entry.body, headers=headers)
        rebuilt.context["timestamp"] = stamp
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret_access_key, self.session_token),
            "sns",
            self.region,
        )
        canonical = signer.canonical_request(rebuilt)
        signature: str = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
        return signature, canonical

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SnsFake:
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self._moto.stop()
