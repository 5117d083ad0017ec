"""Everything the fake WhatsApp Cloud API remembers and enforces, and the test-facing queries over it."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import itertools
import re
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from tests.fake_telegram.limits import TokenBucket
from tests.fake_telegram.models import Signal

from .actors import FakeWhatsAppUser
from .limits import Limits, TemplateSpec, template_params, validate_message
from .models import (
    DEFAULT_APP_SECRET,
    DEFAULT_DISPLAY_PHONE,
    DEFAULT_PHONE_ID,
    DEFAULT_TOKEN,
    DEFAULT_VERIFY_TOKEN,
    DEFAULT_WABA_ID,
    JSON,
    MEDIA_HOST,
    MEDIA_PATH,
    Call,
    Fault,
    GraphError,
    StoredMedia,
    WebhookResult,
    known_error,
)
from .payloads import Event

T = TypeVar("T")
Listener = Callable[[str, JSON], None]
DEFAULT_LIMITS = Limits()  # frozen, so one shared default instance is safe
WINDOW = timedelta(hours=24)
MEDIA_URL_LIFETIME = timedelta(minutes=5)  # Meta's media URLs expire after five minutes
MAX_UPLOAD = 100 * 1024 * 1024
UPLOAD_TYPES = {
    "image": (5 * 1024 * 1024, ("image/jpeg", "image/png")),
    "document": (
        MAX_UPLOAD,
        (
            "application/pdf",
            "text/plain",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ),
    "audio": (16 * 1024 * 1024, ("audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4")),
    "sticker": (500 * 1024, ("image/webp",)),
}


class FakeWhatsAppState:
    """Everything the fake Cloud API remembers and enforces, and the test-facing controls and queries."""

    # "refuse": a free-form message outside the 24-hour window is answered with error 131047 at once.
    # "status": accepted like the real Cloud API mostly does, then failed through a status webhook
    # (`post_failed_statuses()`); the bot must handle both.
    window_failures: Literal["refuse", "status"] = "refuse"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        phone_id: str = DEFAULT_PHONE_ID,
        display_phone: str = DEFAULT_DISPLAY_PHONE,
        waba_id: str = DEFAULT_WABA_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        verify_token: str = DEFAULT_VERIFY_TOKEN,
        limits: Limits | None = DEFAULT_LIMITS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.token = token
        self.phone_id = phone_id
        self.display_phone = display_phone
        self.waba_id = waba_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.webhook_url: str | None = None  # the bot's POST /whatsapp, set by the test
        self.templates: dict[tuple[str, str], TemplateSpec] = {}
        self.users: dict[str, FakeWhatsAppUser] = {}
        self.last_inbound: dict[str, datetime] = {}  # user_id -> time of the user's latest message
        self.media: dict[str, StoredMedia] = {}
        self.calls: list[Call] = []
        self.read_marks: list[JSON] = []  # bodies of accepted mark-as-read calls
        self.webhook_posts: list[WebhookResult] = []
        self.versions_seen: set[str] = set()
        self.internal_errors: list[Exception] = []
        self.faults: list[Fault] = []
        self._sent: list[JSON] = []
        self.undelivered: list[JSON] = []  # accepted outside the window under window_failures="status"
        self._failures_reported: set[str] = set()
        self._listeners: list[Listener] = []
        self._inbound_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._changes = Signal()
        self.set_limits(limits)

    # ----- the world ---------------------------------------------------------------------------

    def add_template(self, name: str, body: str, language: str = "id") -> TemplateSpec:
        """Approve a template: `body` with `{{1}}`… placeholders; sends of unknown templates are refused."""
        spec = TemplateSpec(name, language, body)
        self.templates[(name, language)] = spec
        return spec

    def open_window(self, user: FakeWhatsAppUser, at: datetime | None = None) -> None:
        """Record an inbound message from `user` at `at` (default now) without posting one."""
        self.last_inbound[user.user_id] = at or self.clock()

    def set_limits(self, limits: Limits | None) -> None:
        """Replace the throughput limits (fresh, full buckets); None disables them. Buckets refill on `clock`."""
        self.limits = limits
        self._pair_buckets: dict[str, TokenBucket] = {}
        self._global_bucket = (
            TokenBucket(limits.messages_per_sec, limits.messages_per_sec, self._seconds) if limits else None
        )

    def new_message_id(self) -> str:
        """A fresh wamid."""
        raw = f"{next(self._ids):06d}{secrets.token_hex(8).upper()}".encode()
        return "wamid." + base64.b64encode(b"HBgNNjI4MTIzNDU2Nzg5FQIAEhg" + raw).decode()

    def store_media(self, data: bytes, mime_type: str, file_name: str | None = None) -> StoredMedia:
        """Keep bytes under a new numeric media id (as Meta's media ids are)."""
        media_id = str(1_500_000_000_000_000 + next(self._ids) * 7919)
        stored = StoredMedia(media_id, data, mime_type, hashlib.sha256(data).hexdigest(), file_name)
        self.media[media_id] = stored
        return stored

    def _seconds(self) -> float:
        return self.clock().timestamp()

    # ----- test controls -----------------------------------------------------------------------

    def inject_error(
        self,
        kind: str = "messages",
        code: int = 2,
        *,
        to: FakeWhatsAppUser | str | None = None,
        times: int = 1,
        details: str | None = None,
        http_status: int | None = None,
        deliver: bool = False,
    ) -> None:
        """The next `times` requests of `kind` (to `to`, if given) answer Meta's error `code`.

        Kinds: messages (sends), read (mark as read), media_upload, media_url, media_download, media_delete.
        deliver=True: the message is sent first, then the answer is lost to the error.
        """
        error = known_error(code, details)
        if http_status is not None:
            error.http_status = http_status
        self.faults.append(Fault(kind, _recipient(to), times, error, deliver=deliver))

    def inject_response(
        self, kind: str, body: bytes, *, status: int = 200, to: FakeWhatsAppUser | str | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests of `kind` with exactly `body` and `status` (a broken proxy, say)."""
        self.faults.append(Fault(kind, _recipient(to), times, None, body, status))

    def inject_network_error(self, kind: str, *, to: FakeWhatsAppUser | str | None = None, times: int = 1) -> None:
        """Drop the connection of the next `times` requests of `kind` without an answer."""
        self.faults.append(Fault(kind, _recipient(to), times, None))

    def clear_faults(self) -> None:
        """Drop every injected fault that has not fired yet."""
        self.faults.clear()

    def add_listener(self, listener: Listener) -> None:
        """Call listener("sent", message) for every message the fake accepts."""
        self._listeners.append(listener)

    # ----- what the Cloud API does with a request --------------------------------------------

    def _send(self, body: JSON) -> JSON:
        validate_message(body, lambda media_id: media_id in self.media, self.templates)
        user = self._recipient_user(body)
        outside = body.get("type") != "template" and not self._in_window(user)
        if outside and self.window_failures == "refuse":
            raise known_error(131047)
        self._spend(user)
        message_id = self.new_message_id()
        record = {**copy.deepcopy(body), "id": message_id, "user_id": user.user_id, "timestamp": self.clock()}
        if outside:
            self.undelivered.append(record)
        else:
            self._sent.append(record)
            for listener in list(self._listeners):
                listener("sent", copy.deepcopy(record))
        if body.get("to"):
            contact = {"input": str(body["to"]), "wa_id": user.wa_id}
        else:
            contact = {"input": str(body["recipient"]), "user_id": user.user_id}
        message: JSON = {"id": message_id}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}

    def _in_window(self, user: FakeWhatsAppUser) -> bool:
        last = self.last_inbound.get(user.user_id)
        return last is not None and self.clock() - last <= WINDOW

    def _recipient_user(self, body: JSON) -> FakeWhatsAppUser:
        if body.get("recipient"):
            user = self.users.get(str(body["recipient"]))
        else:
            digits = re.sub(r"\D", "", str(body.get("to")))
            user = next((u for u in self.users.values() if u.wa_id == digits), None)
        if user is None:
            raise known_error(131026)
        return user

    def _spend(self, user: FakeWhatsAppUser) -> None:
        if self.limits is None or self._global_bucket is None:
            return
        pair = self._pair_buckets.get(user.user_id)
        if pair is None:
            pair = TokenBucket(self.limits.pair_burst, self.limits.pair_per_sec, self._seconds)
            self._pair_buckets[user.user_id] = pair
        if self._global_bucket.wait_time() > 0:
            raise known_error(130429)
        if pair.wait_time() > 0:
            raise known_error(131056)
        self._global_bucket.take()
        pair.take()

    def _mark_read(self, body: JSON) -> JSON:
        if body.get("messaging_product") != "whatsapp":
            raise known_error(100, "The parameter messaging_product is required.")
        if str(body.get("message_id")) not in self._inbound_ids:
            raise known_error(100, f"Invalid message_id {body.get('message_id')!r}")
        self.read_marks.append(copy.deepcopy(body))
        return {"success": True}

    def _store_upload(self, fields: dict[str, str], upload: tuple[bytes, str | None, str] | None) -> JSON:
        if fields.get("messaging_product") != "whatsapp":
            raise known_error(100, "The parameter messaging_product is required.")
        if upload is None:
            raise known_error(100, "The parameter file is required.")
        data, file_name, part_type = upload
        mime = (fields.get("type") or part_type).split(";")[0].strip()
        category = next((c for c, (_, types) in UPLOAD_TYPES.items() if mime in types), None)
        if category is None:
            raise known_error(131053, f"Unsupported file type {mime}")
        if len(data) > UPLOAD_TYPES[category][0]:
            raise known_error(131053, f"File size {len(data)} is over the {category} limit")
        return {"id": self.store_media(data, mime, file_name).media_id}

    def _lookup(self, media_id: str) -> JSON:
        stored = self.media.get(media_id)
        if stored is None:
            raise _missing_object(media_id, "get")
        token = secrets.token_urlsafe(24)
        stored.url_tokens.add(token)
        expires = int((self.clock() + MEDIA_URL_LIFETIME).timestamp())
        url = f"https://{MEDIA_HOST}{MEDIA_PATH}?mid={media_id}&ext={expires}&hash={token}"
        return {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": stored.mime_type,
            "sha256": stored.sha256,
            "file_size": len(stored.data),
            "id": media_id,
        }

    def _delete(self, media_id: str) -> JSON:
        if self.media.pop(media_id, None) is None:
            raise _missing_object(media_id, "delete")
        return {"success": True}

    def _take_fault(self, kind: str, recipients: tuple[str, ...]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(kind, recipients):
                fault.times -= 1
                return fault
        return None

    def status_event(self, message_id: str, status: str, *, error_code: int | None = None) -> Event:
        """A status (sent, delivered, read, failed) of a message the fake accepted."""
        sent = next((m for m in self._sent + self.undelivered if m["id"] == message_id), None)
        if sent is None:
            raise LookupError(f"the fake never accepted a message {message_id}")
        user = self.users[sent["user_id"]]
        item: JSON = {"id": message_id, "status": status, "timestamp": str(int(self.clock().timestamp()))}
        if user.wa_id:
            item["recipient_id"] = user.wa_id
        item["recipient_user_id"] = user.user_id
        if status == "failed":
            item["errors"] = [known_error(error_code or 131026).status_error()]
        else:
            category = "marketing" if sent.get("type") == "template" else "service"
            item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": category}}
            item["pricing"] = {"billable": category != "service", "pricing_model": "PMP", "category": category}
        return Event("status", user.contact(), item)

    # ----- test queries ----------------------------------------------------------------------

    def sent_messages(self, user: FakeWhatsAppUser | str | None = None) -> list[JSON]:
        """Messages the fake accepted (the JSON bodies plus `id`, `user_id`, `timestamp`), in order."""
        user_id = _user_id(user)
        return [copy.deepcopy(m) for m in self._sent if user_id is None or m["user_id"] == user_id]

    def texts(self, user: FakeWhatsAppUser | str | None = None) -> list[str]:
        """What each accepted message reads as: text, interactive body, caption or the rendered template."""
        return [self.readable(m) for m in self.sent_messages(user)]

    def readable(self, message: JSON) -> str:
        """The text a user reads in one sent message."""
        kind = message.get("type", "text")
        content = message.get(kind) or {}
        if kind == "text":
            return str(content.get("body", ""))
        if kind == "interactive":
            return str((content.get("body") or {}).get("text", ""))
        if kind == "template":
            key = (str(content.get("name")), str((content.get("language") or {}).get("code")))
            spec = self.templates.get(key)
            params = template_params(content)
            return spec.render(params) if spec else f"[{content.get('name')}] " + " | ".join(params)
        return str(content.get("caption", ""))

    def templates_sent(self, user: FakeWhatsAppUser | str | None = None) -> list[tuple[str, list[str]]]:
        """(template name, body parameters) of each template message, in order."""
        return [
            (m["template"]["name"], template_params(m["template"]))
            for m in self.sent_messages(user)
            if m.get("type") == "template"
        ]

    def duplicate_texts(self, user: FakeWhatsAppUser | str | None = None) -> dict[str, list[str]]:
        """Per user_id, the texts the bot sent more than once (empty dict: nothing was sent twice)."""
        per_user: dict[str, Counter[str]] = {}
        for message in self.sent_messages(user):
            per_user.setdefault(message["user_id"], Counter())[self.readable(message)] += 1
        repeated = {u: [t for t, n in counts.items() if n > 1] for u, counts in per_user.items()}
        return {u: texts for u, texts in repeated.items() if texts}

    def calls_of(self, kind: str) -> list[JSON]:
        """Bodies of every recorded request of `kind` (messages, read, media_upload, media_url, …)."""
        return [call.body for call in self.calls if call.kind == kind]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until predicate() is truthy and return its value; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            # Short waits also catch conditions on state outside the fake (e.g. the bot's database).
            await self._changes.wait(min(remaining, 0.05))
        return result

    async def wait_for_messages(self, user: FakeWhatsAppUser, count: int, timeout: float = 10.0) -> list[JSON]:
        """Wait until the bot has sent `user` at least `count` messages; return them all."""

        def enough() -> list[JSON]:
            messages = self.sent_messages(user)
            return messages if len(messages) >= count else []

        try:
            return await self.wait_for(enough, timeout)
        except TimeoutError:
            got = self.texts(user)
            raise TimeoutError(f"{user}: wanted {count} messages in {timeout} s, got {len(got)}: {got}") from None


def _missing_object(object_id: str, verb: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing"
        " permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


def _user_id(user: FakeWhatsAppUser | str | None) -> str | None:
    return user.user_id if isinstance(user, FakeWhatsAppUser) else user


def _recipient(to: FakeWhatsAppUser | str | None) -> tuple[str, ...]:
    # A user's fault matches sends addressed to any of the user's ids (BSUID or phone number).
    if isinstance(to, FakeWhatsAppUser):
        return tuple(i for i in (to.user_id, to.wa_id) if i)
    return (to,) if to else ()
