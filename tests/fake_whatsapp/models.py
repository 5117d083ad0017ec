"""Constants, the Graph API's error shape and the small records the fake WhatsApp Cloud API keeps."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

JSON = dict[str, Any]

API_VERSION = "v26.0"  # pywa 4.5's default (pywa.utils.Version.GRAPH_API); the fake accepts any vNN.N
DEFAULT_TOKEN = "EAAMonevTestToken0123456789abcdefABCDEF"
DEFAULT_APP_SECRET = "monev-test-app-secret-0123456789"
DEFAULT_VERIFY_TOKEN = "monev-test-verify-token"
DEFAULT_PHONE_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE = "6285600000000"
DEFAULT_WABA_ID = "102290129340398"
GRAPH_HOST = "graph.facebook.com"
MEDIA_HOST = "lookaside.fbsbx.com"
MEDIA_PATH = "/whatsapp_business/attachments/"
SIGNATURE_HEADER = "X-Hub-Signature-256"


class GraphError(Exception):
    """A Graph API error answer: HTTP status plus the `{"error": {...}}` body Meta sends."""

    def __init__(
        self,
        http_status: int,
        code: int,
        message: str,
        *,
        details: str | None = None,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details
        self.subcode = subcode
        self.error_type = error_type
        self.transient = transient

    def error(self) -> JSON:
        """The inner `error` object (also what a failed status webhook carries in `errors[]`)."""
        error: JSON = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return error

    def body(self) -> JSON:
        """The JSON body of the HTTP answer."""
        return {"error": self.error()}

    def status_error(self) -> JSON:
        """This error as a failed status webhook's `errors[]` entry."""
        entry: JSON = {"code": self.code, "title": self.message.split(") ", 1)[-1], "message": self.message}
        if self.details is not None:
            entry["error_data"] = {"details": self.details}
        return entry


# The errors tests inject or the fake raises by itself: code -> (HTTP status, message, details).
KNOWN_ERRORS: dict[int, tuple[int, str, str | None]] = {
    2: (500, "An unexpected error has occurred. Please retry your request later.", None),
    100: (400, "(#100) Invalid parameter", None),
    190: (401, "Invalid OAuth access token - Cannot parse access token", None),
    130429: (400, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: (
        400,
        "(#131026) Message Undeliverable",
        "Message failed to send because the recipient is not a WhatsApp user or has not accepted the terms.",
    ),
    131047: (
        400,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131056: (
        400,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same"
        " phone number in a short period of time.",
    ),
    131009: (400, "(#131009) Parameter value is not valid", None),
    132000: (400, "(#132000) Number of parameters does not match the expected number of params", None),
    132001: (400, "(#132001) Template name does not exist in the translation", None),
}


def known_error(code: int, details: str | None = None, *, message: str | None = None) -> GraphError:
    """The Graph API's answer for `code`, with Meta's message (and details unless overridden)."""
    http_status, known_message, known_details = KNOWN_ERRORS.get(code, (400, f"(#{code}) Error", None))
    error_type = "OAuthException"
    transient = True if code == 2 else None
    return GraphError(
        http_status,
        code,
        message or known_message,
        details=details if details is not None else known_details,
        error_type=error_type,
        transient=transient,
    )


def invalid_parameter(details: str) -> GraphError:
    """(#131009) with Meta's explanation of which limit was broken."""
    return known_error(131009, details)


class Call(NamedTuple):
    """One recorded Graph API request: kind (messages, read, media_upload, ...), path, decoded body, time."""

    kind: str
    path: str
    body: JSON
    time: datetime


@dataclass
class StoredMedia:
    """Media the fake hands out by id: uploaded by the bot or sent by a fake user."""

    media_id: str
    data: bytes
    mime_type: str
    sha256: str
    file_name: str | None = None
    url_tokens: set[str] = field(default_factory=set)  # the `hash` of every URL handed out for it


@dataclass
class Fault:
    """An injected failure: the next `times` requests of `kind` (to one of `recipients`, if any) answer it."""

    kind: str
    recipients: tuple[str, ...]
    times: int
    error: GraphError | None  # None: drop the connection, or answer `body`
    body: bytes | None = None
    http_status: int = 200
    deliver: bool = False  # process the request first (a message is sent), then answer the failure

    def matches(self, kind: str, recipients: tuple[str, ...]) -> bool:
        """Whether this fault applies to a request of `kind` to one of `recipients`."""
        return (
            self.times > 0
            and self.kind == kind
            and (not self.recipients or bool(set(self.recipients) & set(recipients)))
        )


@dataclass(frozen=True)
class WebhookResult:
    """What the bot's webhook answered to one POST (or GET) of the fake."""

    status: int
    text: str
    body: bytes  # the exact bytes posted (empty for a GET)
