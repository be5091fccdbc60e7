"""A stateful fake of Twilio's REST APIs (providers-wire.md §1 and §3.5-3.6).

One server answers both hosts' paths, Messaging and Voice under ``/2010-04-01``
(api.twilio.com) and Verify under ``/v2`` (verify.twilio.com), so a test points both base URLs
at ``fake.url``. It checks HTTP Basic auth against the accounts and API keys it was given,
answers in Twilio's success shapes and ``{code, message, more_info, status}`` errors, refuses
Twilio's magic test numbers, keeps Verify's state machine, and POSTs signed status callbacks
when a test asks (``send_status_callbacks``). What it "sent" is in ``messages``, ``calls``
(with the spoken text) and ``verifications`` (with their codes), records that
:mod:`tests.fakes.twilio_resources` defines and renders.

Every request, and every successful response, is validated against Twilio's own OpenAPI files
(:mod:`tests.fakes.twilio_spec`). Violations land in ``spec_errors``; such a request is
answered 400 with the Twilio code for the problem when the fake knows it (missing ``To`` is
21604), else with 20400 (Verify: 60200). Tests assert ``fake.spec_errors == []``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, basic_credentials
from tests.fakes.twilio_resources import (
    PlacedCall,
    SentMessage,
    TwilioError,
    Verification,
    call_json,
    check_json,
    message_json,
    new_sid,
    parse_twiml,
    verification_json,
)
from tests.fakes.twilio_spec import request_violations, response_violations

# Identities tests can use; any others can be passed to the constructor.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-3f9c1e7a5b2d4c6e"
API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "fake-api-key-secret-8d3b6a1f0e2c"
SERVICE_SID = "VA" + "00112233445566778899aabbccddeeff"
# The sender a Messaging Service "picks" from its pool.
POOL_SENDER = "+15017122661"

VERIFICATION_LIFETIME = timedelta(minutes=10)
MAX_SENDS = 5
MAX_CHECKS = 5
MAX_BODY_CHARS = 1600
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

# Twilio's magic test numbers (test credentials docs) as definitive refusals: number -> code.
MAGIC_SMS_TO: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {n} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {n}, is not currently reachable."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {n}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number {n} is not a valid mobile number"),
}
MAGIC_CALL_TO: dict[str, tuple[int, str]] = {
    "+15005550001": (21217, "Phone number {n} is not a valid phone number"),
    "+15005550002": (21214, "'To' phone number {n} cannot be reached"),
    "+15005550003": (21215, "Account not authorized to call {n}"),
    "+15005550004": (21216, "Call blocked by Twilio blocklist"),
}
MAGIC_FROM: dict[str, tuple[int, str]] = {
    "+15005550001": (21212, "The 'From' number {n} is not a valid phone number or sender ID."),
    "+15005550007": (
        21606,
        "The 'From' phone number provided is not a valid message-capable Twilio phone number "
        "for this destination.",
    ),
}
# Verify: number -> (HTTP status, code, message, channels it applies to).
MAGIC_VERIFY_TO: dict[str, tuple[int, int, str, frozenset[str]]] = {
    "+15005550001": (400, 60200, "Invalid parameter `To`: {n}", frozenset({"sms", "call"})),
    "+15005550003": (
        403,
        60605,
        "Verification delivery attempt blocked by geo permissions",
        frozenset({"sms", "call"}),
    ),
    "+15005550006": (403, 60410, "Verification delivery attempt blocked", frozenset({"sms"})),
    "+15005550009": (
        400,
        60205,
        "SMS is not supported by landline phone number",
        frozenset({"sms"}),
    ),
}

FORCED_MESSAGES = {429: "Too many requests", 500: "Internal server error"}


# providers-wire.md §1.7, worked example 2: a delivered message's status callback, signed with
# the Auth Token "test-auth-token".
EXAMPLE_CALLBACK_URL = "https://otp.example.test/webhooks/twilio/status"
EXAMPLE_CALLBACK_PARAMS = {
    "AccountSid": "AC" + "a" * 32,
    "ApiVersion": "2010-04-01",
    "From": "+15017122661",
    "MessageSid": "SM" + "a" * 32,
    "MessageStatus": "delivered",
    "SmsSid": "SM" + "a" * 32,
    "SmsStatus": "delivered",
    "To": "+15558675310",
}
EXAMPLE_CALLBACK_SIGNATURE = "WfmWDXiizvx3AvjSGbl7k27ZWHs="


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature for a form POST (§1.7), written independently of the provider's
    checker so a test of one against the other proves something."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class _Context:
    account: str  # the account the credentials belong to
    form: dict[str, list[str]]
    params: dict[str, Any]

    def get(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


Handler = Callable[[_Context], tuple[int, dict[str, Any]]]
Required = Sequence[tuple[str, int, str]]  # form field, Twilio code, message

MESSAGE_REQUIRED: Required = [("To", 21604, "A 'To' phone number is required.")]
CALL_REQUIRED: Required = [
    ("To", 21201, "No 'To' number is specified"),
    ("From", 21213, "No 'From' number is specified"),
]
VERIFY_REQUIRED: Required = [
    ("To", 60200, "Invalid parameter: To"),
    ("Channel", 60200, "Invalid parameter: Channel"),
]
CHECK_REQUIRED: Required = [("Code", 60200, "Invalid parameter: Code")]
UPDATE_REQUIRED: Required = [("Status", 60200, "Invalid parameter: Status")]


class TwilioFake(FakeServer):
    def __init__(
        self,
        accounts: Mapping[str, str] | None = None,
        api_keys: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """``accounts``: {AC sid: auth token}; ``api_keys``: {SK sid: (secret, AC sid)}."""
        super().__init__()
        self.accounts = dict(accounts or {ACCOUNT_SID: AUTH_TOKEN})
        self.api_keys = dict(
            api_keys if api_keys is not None else {API_KEY_SID: (API_KEY_SECRET, ACCOUNT_SID)}
        )
        self.messages: list[SentMessage] = []
        self.calls: list[PlacedCall] = []
        self.verifications: list[Verification] = []
        self.spec_errors: list[str] = []
        self._offset = timedelta(0)

    # -- what a test controls -------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        self.messages.clear()
        self.calls.clear()
        self.verifications.clear()
        self.spec_errors.clear()
        self._offset = timedelta(0)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (Verify's 10-minute expiry)."""
        self._offset += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self._offset

    def error_response(self, status: int) -> Response:
        code = 20003 if status == 401 else 20000 + status
        return TwilioError(
            status, code, FORCED_MESSAGES.get(status, "Service unavailable")
        ).response()

    async def send_status_callbacks(
        self, sid: str, statuses: Sequence[str], *, error_code: str | None = None
    ) -> list[int]:
        """POST one signed status callback per status to the StatusCallback of message or call
        ``sid``, in order, as Twilio does; returns the receiver's HTTP statuses."""
        sent: list[SentMessage | PlacedCall] = [*self.messages, *self.calls]
        item = next(m for m in sent if m.sid == sid)
        if item.status_callback is None:
            raise ValueError(f"{sid} was sent without a StatusCallback")
        token = self.accounts[item.account_sid]
        answers = []
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            for sequence, status in enumerate(statuses):
                item.status = status
                form = self._callback_form(item, status, sequence, error_code)
                signature = twilio_signature(token, item.status_callback, form)
                response = await client.post(
                    item.status_callback,
                    data=form,
                    headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"},
                )
                answers.append(response.status_code)
        return answers

    def _callback_form(
        self, item: SentMessage | PlacedCall, status: str, sequence: int, error_code: str | None
    ) -> dict[str, str]:
        form = {"AccountSid": item.account_sid, "ApiVersion": "2010-04-01", "To": item.to}
        if isinstance(item, SentMessage):
            form |= {
                "From": item.from_ or POOL_SENDER,
                "MessageSid": item.sid,
                "MessageStatus": status,
                "SmsSid": item.sid,
                "SmsStatus": status,
            }
            if item.messaging_service_sid:
                form["MessagingServiceSid"] = item.messaging_service_sid
            if status in ("delivered", "undelivered"):
                form["RawDlrDoneDate"] = self.now().strftime("%y%m%d%H%M")
        else:
            form |= {
                "From": item.from_,
                "CallSid": item.sid,
                "CallStatus": status,
                "Direction": "outbound-api",
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
                "Timestamp": format_datetime(self.now()),
            }
            if status == "completed":
                form |= {"CallDuration": "14", "Duration": "1"}
        if error_code and status in ("failed", "undelivered"):
            form["ErrorCode"] = error_code
        return form

    # -- the HTTP surface ----------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        account = "/2010-04-01/Accounts/{account}"
        service = "/v2/Services/{service}"
        endpoints: list[tuple[str, str, Handler, Required]] = [
            ("POST", f"{account}/Messages.json", self._create_message, MESSAGE_REQUIRED),
            ("GET", f"{account}/Messages/{{sid}}.json", self._fetch_message, ()),
            ("POST", f"{account}/Calls.json", self._create_call, CALL_REQUIRED),
            ("POST", f"{service}/Verifications", self._start_verification, VERIFY_REQUIRED),
            ("POST", f"{service}/VerificationCheck", self._check_verification, CHECK_REQUIRED),
            (
                "POST",
                f"{service}/Verifications/{{sid}}",
                self._update_verification,
                UPDATE_REQUIRED,
            ),
        ]
        return [
            Route(path, self._endpoint(handler, required), methods=[method])
            for method, path, handler, required in endpoints
        ]

    def _endpoint(
        self, handler: Handler, required: Required = ()
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            entry, forced = await self.accept(request)
            if forced is not None:
                return forced
            violations = request_violations(entry.method, entry.path, entry.headers, entry.body)
            self.spec_errors.extend(violations)
            try:
                context = _Context(
                    self._authenticate(entry.headers), entry.form, request.path_params
                )
                for name, code, message in required:
                    if not context.get(name):
                        raise TwilioError(400, code, message)
                if violations:
                    generic = 60200 if entry.path.startswith("/v2/") else 20400
                    raise TwilioError(400, generic, f"Invalid request: {violations[0][:300]}")
                if context.params.get("account", context.account) != context.account:
                    raise TwilioError(401, 20003, "Authenticate")
                status, body = handler(context)
            except TwilioError as error:
                return error.response()
            answer = json.dumps(body).encode()
            self.spec_errors.extend(
                response_violations(
                    entry.method, entry.path, entry.headers, entry.body, status, answer
                )
            )
            return Response(answer, status_code=status, media_type="application/json")

        return endpoint

    def _authenticate(self, headers: Mapping[str, str]) -> str:
        user, password = basic_credentials(headers) or ("", "")
        if user:
            if user in self.accounts and hmac.compare_digest(self.accounts[user], password):
                return user
            secret, account = self.api_keys.get(user, ("", ""))
            if secret and hmac.compare_digest(secret, password):
                return account
        raise TwilioError(401, 20003, "Authenticate")

    # -- Messaging and Voice -------------------------------------------------------------

    def _create_message(self, c: _Context) -> tuple[int, dict[str, Any]]:
        to, sender, text = c.get("To") or "", c.get("From"), c.get("Body")
        service = c.get("MessagingServiceSid")
        if not sender and not service:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not text and not c.get("MediaUrl") and not c.get("ContentSid"):
            raise TwilioError(400, 21602, "Message body is required.")
        if text and len(text) > MAX_BODY_CHARS:
            raise TwilioError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        _refuse(MAGIC_FROM, sender)
        _refuse(MAGIC_SMS_TO, to)
        _check_callback(c.get("StatusCallback"))
        if not E164.match(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        validity = c.get("ValidityPeriod")
        message = SentMessage(
            sid=new_sid("SM"),
            account_sid=c.account,
            to=to,
            from_=sender,
            messaging_service_sid=service,
            body=text or "",
            status="accepted" if service else "queued",
            status_callback=c.get("StatusCallback"),
            validity_period=int(validity) if validity else None,
            created=self.now(),
        )
        self.messages.append(message)
        return 201, message_json(message)

    def _fetch_message(self, c: _Context) -> tuple[int, dict[str, Any]]:
        for message in self.messages:
            if message.sid == c.params["sid"] and message.account_sid == c.account:
                return 200, message_json(message)
        raise TwilioError(404, 20404, f"The requested resource {c.params['sid']} was not found")

    def _create_call(self, c: _Context) -> tuple[int, dict[str, Any]]:
        to, sender, twiml = c.get("To") or "", c.get("From") or "", c.get("Twiml")
        if not twiml:
            # The fake reads inline TwiML only; phonegate never hands Twilio a Url to fetch.
            raise TwilioError(400, 21205, "A 'Twiml' parameter is required by this fake.")
        if not E164.match(sender):
            raise TwilioError(400, 21212, f"The 'From' phone number {sender} is not valid.")
        _refuse(MAGIC_CALL_TO, to)
        _check_callback(c.get("StatusCallback"))
        if not E164.match(to):
            raise TwilioError(400, 21217, f"Phone number {to} is not a valid phone number")
        says, pauses = parse_twiml(twiml)
        call = PlacedCall(
            sid=new_sid("CA"),
            account_sid=c.account,
            to=to,
            from_=sender,
            twiml=twiml,
            says=says,
            pauses=pauses,
            status_callback=c.get("StatusCallback"),
            callback_events=c.form.get("StatusCallbackEvent", []),
            status="queued",
            created=self.now(),
        )
        self.calls.append(call)
        return 201, call_json(call)

    # -- Verify --------------------------------------------------------------------------

    def _start_verification(self, c: _Context) -> tuple[int, dict[str, Any]]:
        service, to, channel = c.params["service"], c.get("To") or "", c.get("Channel") or ""
        if channel not in ("sms", "call"):
            raise TwilioError(400, 60200, "Invalid parameter: Channel")
        magic = MAGIC_VERIFY_TO.get(to)
        if magic is not None and channel in magic[3]:
            raise TwilioError(magic[0], magic[1], magic[2].format(n=to))
        if not E164.match(to):
            raise TwilioError(400, 60200, f"Invalid parameter `To`: {to}")
        custom = c.get("CustomCode")
        if custom is not None and not 4 <= len(custom) <= 10:
            raise TwilioError(400, 60200, "Invalid parameter: CustomCode")
        now = self.now()
        verification = self._pending(service, to)
        if verification is None:
            verification = Verification(
                sid=new_sid("VE"),
                service_sid=service,
                account_sid=c.account,
                to=to,
                channel=channel,
                code=custom or f"{secrets.randbelow(10**6):06d}",
                custom_code=custom is not None,
                locale=c.get("Locale"),
                created=now,
                updated=now,
            )
            self.verifications.append(verification)
        elif len(verification.sends) >= MAX_SENDS:
            raise TwilioError(429, 60203, "Max send attempts reached")
        else:
            # Starting again while one is pending re-sends on the same verification.
            verification.channel, verification.updated = channel, now
            verification.code = custom or verification.code
        verification.sends.append((now, channel, new_sid("VL")))
        return 201, verification_json(verification)

    def _check_verification(self, c: _Context) -> tuple[int, dict[str, Any]]:
        service, target = c.params["service"], c.get("VerificationSid") or c.get("To")
        if not target:
            raise TwilioError(
                400, 60200, "Either a 'To' or 'VerificationSid' parameter is required"
            )
        verification = self._find(service, target)
        if verification is None:
            raise TwilioError(
                404,
                20404,
                f"The requested resource /Services/{service}/VerificationCheck was not found",
            )
        if verification.checks >= MAX_CHECKS:
            raise TwilioError(429, 60202, "Max check attempts reached")
        verification.checks += 1
        verification.updated = self.now()
        if hmac.compare_digest(c.get("Code") or "", verification.code):
            verification.status = "approved"
        return 200, check_json(verification)

    def _update_verification(self, c: _Context) -> tuple[int, dict[str, Any]]:
        service, target = c.params["service"], c.params["sid"]
        verification = self._find(service, target)
        if verification is None:
            raise TwilioError(
                404,
                20404,
                f"The requested resource /Services/{service}/Verifications/{target} was not found",
            )
        verification.status = c.get("Status") or ""
        verification.updated = self.now()
        return 200, verification_json(verification)

    def _find(self, service: str, sid_or_to: str) -> Verification | None:
        """The pending verification a check or update names, by VE sid or by To."""
        if not sid_or_to.startswith("VE"):
            return self._pending(service, sid_or_to)
        for verification in self.verifications:
            if verification.sid == sid_or_to and verification.service_sid == service:
                return verification if self._still_pending(verification) else None
        return None

    def _pending(self, service: str, to: str) -> Verification | None:
        for verification in reversed(self.verifications):
            if verification.service_sid == service and verification.to == to:
                return verification if self._still_pending(verification) else None
        return None

    def _still_pending(self, verification: Verification) -> bool:
        if (
            verification.status == "pending"
            and self.now() >= verification.created + VERIFICATION_LIFETIME
        ):
            verification.status = "expired"
        return verification.status == "pending"


def _refuse(magic: Mapping[str, tuple[int, str]], number: str | None) -> None:
    if number is not None and number in magic:
        code, message = magic[number]
        raise TwilioError(400, code, message.format(n=number))


def _check_callback(url: str | None) -> None:
    # The spec's "uri" format goes unchecked without rfc3987; Twilio checks it, and refuses
    # underscores in the host name.
    parts = urlsplit(url or "")
    if url is not None and (
        parts.scheme not in ("http", "https") or not parts.hostname or "_" in parts.hostname
    ):
        raise TwilioError(400, 21609, f"The StatusCallback URL {url} is not a valid URL")
