"""What TwilioFake keeps of each message, call and verification, Twilio's error answer, and
how Twilio renders each resource as JSON (providers-wire.md §1.2, §1.4, §1.6); plus the reader
of the inline TwiML a call carries (§1.8), which refuses what Twilio would not run.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.responses import JSONResponse

from tests.fakes.twilio_spec import VERIFY_HOST

MAX_TWIML_CHARS = 4000


class TwilioError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass
class SentMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status: str
    status_callback: str | None
    validity_period: int | None
    created: datetime


@dataclass(frozen=True)
class Say:
    text: str
    language: str | None
    voice: str | None


@dataclass
class PlacedCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    twiml: str
    says: list[Say]
    pauses: int
    status_callback: str | None
    callback_events: list[str]
    status: str
    created: datetime

    @property
    def spoken(self) -> str:
        return " ".join(say.text for say in self.says)


@dataclass
class Verification:
    sid: str
    service_sid: str
    account_sid: str
    to: str
    channel: str
    code: str
    custom_code: bool
    locale: str | None
    created: datetime
    updated: datetime
    status: str = "pending"
    checks: int = 0
    # (time, channel, attempt sid) per send, as send_code_attempts reports them
    sends: list[tuple[datetime, str, str]] = field(default_factory=list)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def iso_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_twiml(twiml: str) -> tuple[list[Say], int]:
    """The ``<Say>`` verbs and the number of ``<Pause>`` verbs of inline TwiML, refusing what
    Twilio would not run (the fake knows only the two verbs phonegate uses)."""
    if len(twiml) > MAX_TWIML_CHARS:
        raise TwilioError(400, 12100, f"Twiml is {len(twiml)} characters, over {MAX_TWIML_CHARS}")
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - our own provider's output, on loopback
    except ET.ParseError as error:
        raise TwilioError(400, 12100, f"Document parse failure: {error}") from None
    if root.tag != "Response":
        raise TwilioError(400, 12100, "The root element must be <Response>")
    says: list[Say] = []
    pauses = 0
    for verb in root:
        if _is_say(verb):
            says.append(Say(verb.text or "", verb.get("language"), verb.get("voice")))
        elif _is_pause(verb):
            pauses += 1
        else:
            raise TwilioError(400, 12100, f"Invalid TwiML verb <{verb.tag}>")
    return says, pauses


def _is_say(verb: ET.Element) -> bool:
    # No nested verbs inside <Say>, and something to say.
    attributes_ok = set(verb.attrib) <= {"language", "voice", "loop"}
    return (
        verb.tag == "Say" and attributes_ok and len(verb) == 0 and bool((verb.text or "").strip())
    )


def _is_pause(verb: ET.Element) -> bool:
    length = verb.get("length", "1")
    attributes_ok = set(verb.attrib) <= {"length"} and length.isdigit() and int(length) > 0
    return (
        verb.tag == "Pause" and attributes_ok and not (verb.text or "").strip() and len(verb) == 0
    )


def message_json(message: SentMessage) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
    date = format_datetime(message.created)
    segments = 1 if len(message.body) <= 160 else -(-len(message.body) // 153)
    return {
        "account_sid": message.account_sid,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": date,
        "date_sent": None,
        "date_updated": date,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": str(segments),
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def call_json(call: PlacedCall) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{call.account_sid}/Calls/{call.sid}"
    date = format_datetime(call.created)
    return {
        "account_sid": call.account_sid,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": date,
        "date_updated": date,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": "PN" + call.sid[2:],
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": None,
        "status": call.status,
        "subresource_uris": {
            name: f"{uri}/{name.capitalize()}.json"
            for name in ("notifications", "recordings", "events")
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


def _verification_fields(v: Verification) -> dict[str, Any]:
    return {
        "sid": v.sid,
        "service_sid": v.service_sid,
        "account_sid": v.account_sid,
        "to": v.to,
        "channel": v.channel,
        "status": v.status,
        "valid": v.status == "approved",
        "amount": None,
        "payee": None,
        "date_created": iso_time(v.created),
        "date_updated": iso_time(v.updated),
    }


def verification_json(v: Verification) -> dict[str, Any]:
    return _verification_fields(v) | {
        "lookup": {},
        "send_code_attempts": [
            {"time": iso_time(time), "channel": channel, "attempt_sid": attempt}
            for time, channel, attempt in v.sends
        ],
        "sna": None,
        "url": f"{VERIFY_HOST}/v2/Services/{v.service_sid}/Verifications/{v.sid}",
    }


def check_json(v: Verification) -> dict[str, Any]:
    return _verification_fields(v) | {"sna_attempts_error_codes": []}
