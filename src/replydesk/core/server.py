"""uvicorn's HTTP protocol, with malformed requests answered in the API's error shape.

uvicorn answers what its parser refuses (an over-long request line, a bad Content-Length,
broken headers) itself, before the app sees anything, with a plain-text "Invalid HTTP request
received.". These subclasses send the same 400 as JSON ``{"error": {"code", "message"}}``
with the security headers every other answer has (``core/edge.py``).
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from replydesk.core.edge import CSP_API, SECURITY_HEADERS
from replydesk.core.errors import MalformedInput

_BODY = json.dumps(
    {
        "error": {
            "code": MalformedInput.code,
            "message": "malformed HTTP request (request line, headers or Content-Length)",
        }
    }
).encode()
_RESPONSE = b"".join(
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
        b"connection: close\r\n",
        *(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS),
        b"content-security-policy: " + CSP_API + b"\r\n",
        b"\r\n",
        _BODY,
    ]
)


def _send_json_400(transport: asyncio.Transport) -> None:
    transport.write(_RESPONSE)
    transport.close()


class JsonErrorsH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        _send_json_400(self.transport)


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    """What ``replydesk serve`` runs (uvicorn[standard] installs httptools)."""

    def send_400_response(self, msg: str) -> None:
        _send_json_400(self.transport)
