"""A fake Esendex REST API: ``POST /v1.0/messagedispatcher`` with HTTP Basic auth and an XML
``<messages>`` document, answering as Esendex does (providers-wire.md §2): 200
``<messageheaders batchid=…>`` in the ``http://api.esendex.com/ns/`` namespace, failures as
a plain HTTP status with a short ``text/plain`` reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.etree import ElementTree

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, basic_credentials

USERNAME = "ops@example.com"
PASSWORD = "fake esendex password"
ACCOUNT_REFERENCE = "EX0012345"

# Esendex refuses this recipient outright: 400.
INVALID_NUMBER = "+447700900999"

NAMESPACE = "http://api.esendex.com/ns/"
_TYPES = ("SMS", "Voice")
_LANGUAGES = ("en-GB", "en-AU", "es-ES", "fr-FR", "de-DE")


@dataclass
class SentMessage:
    id: str
    batch_id: str
    account_reference: str
    to: str
    body: str
    type: str
    originator: str | None
    lang: str | None
    validity: str | None


def _reason(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status)


class EsendexFake(FakeServer):
    def __init__(
        self,
        username: str = USERNAME,
        password: str = PASSWORD,
        account_reference: str = ACCOUNT_REFERENCE,
    ) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.account_reference = account_reference
        self.messages: list[SentMessage] = []

    def reset(self) -> None:
        super().reset()
        self.messages.clear()

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1.0/messagedispatcher", self.dispatch, methods=["POST"])]

    def error_response(self, status: int) -> Response:
        reasons = {429: "Too Many Requests", 500: "Internal Server Error"}
        return _reason(status, reasons.get(status, "Service Unavailable"))

    async def dispatch(self, request: Request) -> Response:
        entry, forced = await self.accept(request)
        if forced is not None:
            return forced
        if basic_credentials(entry.headers) != (self.username, self.password):
            return Response(
                "Unauthorized",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="Esendex"'},
            )
        try:
            root = ElementTree.fromstring(entry.body)  # noqa: S314 - our own client's XML
        except ElementTree.ParseError:
            return _reason(400, "Bad Request: the request body is not well-formed XML")
        if root.tag != "messages":
            return _reason(400, "Bad Request: expected a messages element")
        if root.findtext("accountreference") != self.account_reference:
            return _reason(400, "Bad Request: invalid account reference")
        batch_id = str(uuid.uuid4())
        accepted: list[SentMessage] = []
        for element in root.findall("message"):
            to, body = element.findtext("to") or "", element.findtext("body") or ""
            kind = element.findtext("type") or "SMS"
            lang = element.findtext("lang")
            if not to or not body:
                return _reason(400, "Bad Request: a message needs a to and a body")
            if not to.isdigit() or f"+{to}" == INVALID_NUMBER:
                return _reason(400, "Bad Request: invalid recipient")
            if kind not in _TYPES or (lang is not None and lang not in _LANGUAGES):
                return _reason(400, "Bad Request: invalid message type or language")
            accepted.append(
                SentMessage(
                    id=str(uuid.uuid4()),
                    batch_id=batch_id,
                    account_reference=self.account_reference,
                    to=to,
                    body=body,
                    type=kind,
                    originator=element.findtext("from"),
                    lang=lang,
                    validity=element.findtext("validity"),
                )
            )
        if not accepted:
            return _reason(400, "Bad Request: no message to send")
        self.messages.extend(accepted)
        return Response(self._headers_document(batch_id, accepted), media_type="text/xml")

    def _headers_document(self, batch_id: str, sent: list[SentMessage]) -> bytes:
        root = ElementTree.Element("messageheaders", batchid=batch_id, xmlns=NAMESPACE)
        for message in sent:
            ElementTree.SubElement(
                root,
                "messageheader",
                uri=f"{self.url}/v1.0/messageheaders/{message.id}",
                id=message.id,
            )
        document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
        return document
