"""One validated settings object, read from the environment (and an optional `.env` file).

Never an import-time global: `load_settings()` is called once by the entry point and the result is passed
explicitly to everything that needs it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PUBLIC_BOT_API = "https://api.telegram.org/bot"
PUBLIC_BOT_FILE_API = "https://api.telegram.org/file/bot"
# Telegram's own rule for setWebhook's secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# The async drivers the storage layer is written and tested for; any other URL fails later with a traceback.
_DATABASE_DRIVERS = {"sqlite+aiosqlite": "aiosqlite", "postgresql+asyncpg": "asyncpg"}
_DATABASE_URL_FORMS = "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/NAME"
# Telegram downloads up to 20 MB; a Bot API server of our own run with --local, up to 2000 MB.
MAX_FILE_MB, MAX_FILE_MB_LOCAL = 20, 2000
# The WhatsApp Cloud API takes documents up to 100 MB.
WHATSAPP_MAX_FILE_MB = 100
PUBLIC_GRAPH_API = "https://graph.facebook.com"
# Meta's published throughput of one business number.
WHATSAPP_MPS = 80
# Meta's rule for template names: lowercase letters, digits and underscores.
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
# `text` is the body as submitted to Meta for approval: documentation, checked against `params`, never sent.
_TEMPLATE_FIELDS = {"name", "language", "params", "text", "header"}
# Telegram itself only calls https:// webhooks; plain http is for a Bot API server on this very machine.
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class WhatsAppTemplate:
    """One approved WhatsApp template (MONEV_WHATSAPP_TEMPLATES): what a kind sends outside the 24-hour window.

    `params` are paths into the message's parameters (`t.title`, `t.items`), in the order of the template's
    `{{1}}`, `{{2}}`…; `penerima` is the recipient's name.
    """

    key: str
    name: str
    language: str
    params: tuple[str, ...] = ()
    header_document: bool = False  # approved with a document header: the message's document goes there


class SettingsError(Exception):
    """A setting has a bad value; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    """Every setting of the bot (CONTRACT.md "Settings")."""

    data_dir: Path
    database_url: str
    timezone: ZoneInfo
    log_level: str = "INFO"
    log_format: str = "text"
    telegram_token: str | None = None
    telegram_base_url: str = PUBLIC_BOT_API
    telegram_base_file_url: str = PUBLIC_BOT_FILE_API
    telegram_local_mode: bool = False
    telegram_max_file_mb: int = 20
    webhook_url: str | None = None
    webhook_secret: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    workday_start: time = time(8, 0)
    workday_end: time = time(16, 0)
    lease_renew_seconds: float = 5.0
    lease_timeout_seconds: float = 30.0
    review_digest_minutes: int = 30
    whatsapp_phone_id: str | None = None
    whatsapp_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_base_url: str = PUBLIC_GRAPH_API
    whatsapp_max_file_mb: int = WHATSAPP_MAX_FILE_MB
    # The automatic check: how many files are read at once (0: not at all), and each reading's limits.
    evidence_workers: int = 1
    evidence_seconds: int = 120
    evidence_memory_mb: int = 1024
    reminder_time: time = time(8, 0)
    recap_time: time | None = time(16, 0)  # the daily recap, on working days (due until the day ends); None: off
    overdue_reminder_days: int = 5
    whatsapp_mps: int = WHATSAPP_MPS
    whatsapp_templates: tuple[WhatsAppTemplate, ...] = ()

    def whatsapp_template(self, key: str) -> WhatsAppTemplate | None:
        """The template configured under `key` (`undangan`, `pemberitahuan`, …), if any."""
        return next((t for t in self.whatsapp_templates if t.key == key), None)

    @property
    def files_dir(self) -> Path:
        """Where the content-addressed file store keeps its blobs."""
        return self.data_dir / "files"

    @property
    def channels(self) -> list[str]:
        """The chat channels this configuration turns on."""
        return [name for name, on in (("telegram", self.telegram_token), ("whatsapp", self.whatsapp_token)) if on]

    def max_file_mb(self, channel: str) -> int:
        """The largest file a channel's chat may send us (each platform has its own download limit)."""
        return self.whatsapp_max_file_mb if channel == "whatsapp" else self.telegram_max_file_mb

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an error message."""
        values = (
            self.telegram_token,
            self.webhook_secret,
            self.whatsapp_token,
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
        )
        return [s for s in values if s]


def read_dotenv(path: Path) -> dict[str, str]:
    """Read a `.env` file with python-dotenv's parser: `export`, quotes, inline `# comments`; values are literal."""
    if not path.is_file():
        return {}
    # No ${VAR} expansion: a password containing "${" must reach the database as written.
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")) -> Settings:
    """Build and validate the settings; the real environment wins over the `.env` file."""
    merged: dict[str, str] = read_dotenv(dotenv) if dotenv else {}
    merged.update(os.environ if env is None else env)
    get = _Reader(merged)

    data_dir = Path(get.text("MONEV_DATA_DIR", "./data")).expanduser().absolute()
    local_mode = get.boolean("MONEV_TELEGRAM_LOCAL_MODE", False)
    max_file_mb = get.integer(
        "MONEV_TELEGRAM_MAX_FILE_MB",
        MAX_FILE_MB,
        minimum=1,
        maximum=MAX_FILE_MB_LOCAL,
        problem=f"must be between 1 and {MAX_FILE_MB} ({MAX_FILE_MB_LOCAL} with local mode)",
    )
    if max_file_mb > MAX_FILE_MB and not local_mode:
        raise SettingsError(
            "MONEV_TELEGRAM_MAX_FILE_MB",
            "above 20 needs MONEV_TELEGRAM_LOCAL_MODE=true (only a local Bot API server lifts the limit)",
        )
    webhook_url = get.optional("MONEV_WEBHOOK_URL")
    webhook_secret = get.optional("MONEV_WEBHOOK_SECRET")
    if webhook_url is not None:
        _check_webhook_url(webhook_url)
    if webhook_url and not webhook_secret:
        raise SettingsError("MONEV_WEBHOOK_SECRET", "is required when MONEV_WEBHOOK_URL is set")
    if webhook_secret is not None and not _WEBHOOK_SECRET.fullmatch(webhook_secret):
        raise SettingsError("MONEV_WEBHOOK_SECRET", "use 1-256 characters from A-Z a-z 0-9 _ -")
    token = get.optional("MONEV_TELEGRAM_TOKEN")
    if token is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
        raise SettingsError("MONEV_TELEGRAM_TOKEN", "does not look like a bot token (digits:letters)")
    workday_start = get.clock("MONEV_WORKDAY_START", time(8, 0))
    workday_end = get.clock("MONEV_WORKDAY_END", time(16, 0))
    if workday_end <= workday_start:
        raise SettingsError("MONEV_WORKDAY_END", "must be later than MONEV_WORKDAY_START")
    reminder_time = get.clock("MONEV_REMINDER_TIME", time(8, 0))
    if not workday_start <= reminder_time < workday_end:
        # A reminder is due from this time until the working day ends: outside that window it would never go out.
        raise SettingsError("MONEV_REMINDER_TIME", "must fall within MONEV_WORKDAY_START and MONEV_WORKDAY_END")
    renew = get.number("MONEV_LEASE_RENEW_SECONDS", 5.0, minimum=0.05)
    timeout = get.number("MONEV_LEASE_TIMEOUT_SECONDS", 30.0, minimum=0.1)
    if timeout <= renew:
        raise SettingsError("MONEV_LEASE_TIMEOUT_SECONDS", "must be longer than MONEV_LEASE_RENEW_SECONDS")

    whatsapp = _whatsapp(get)

    default_database = f"sqlite+aiosqlite:///{data_dir / 'monev.sqlite3'}"
    return Settings(
        data_dir=data_dir,
        database_url=_database_url(get.text("MONEV_DATABASE_URL", default_database)),
        timezone=get.zone("MONEV_TIMEZONE", "Asia/Pontianak"),
        log_level=get.choice("MONEV_LOG_LEVEL", "INFO", _LOG_LEVELS, upper=True),
        log_format=get.choice("MONEV_LOG_FORMAT", "text", {"text", "json"}),
        telegram_token=token,
        telegram_base_url=get.text("MONEV_TELEGRAM_BASE_URL", PUBLIC_BOT_API),
        telegram_base_file_url=get.text("MONEV_TELEGRAM_BASE_FILE_URL", PUBLIC_BOT_FILE_API),
        telegram_local_mode=local_mode,
        telegram_max_file_mb=max_file_mb,
        webhook_url=webhook_url.rstrip("/") if webhook_url else None,
        webhook_secret=webhook_secret,
        http_host=get.text("MONEV_HTTP_HOST", "127.0.0.1"),
        http_port=get.integer("MONEV_HTTP_PORT", 8080, minimum=0, maximum=65535),
        workday_start=workday_start,
        workday_end=workday_end,
        lease_renew_seconds=renew,
        lease_timeout_seconds=timeout,
        review_digest_minutes=get.integer("MONEV_REVIEW_DIGEST_MINUTES", 30, minimum=1, maximum=24 * 60),
        **whatsapp,
        evidence_workers=get.integer("MONEV_EVIDENCE_WORKERS", 1, minimum=0, maximum=8),
        evidence_seconds=get.integer("MONEV_EVIDENCE_SECONDS", 120, minimum=5, maximum=3600),
        evidence_memory_mb=get.integer("MONEV_EVIDENCE_MEMORY_MB", 1024, minimum=256, maximum=16 * 1024),
        reminder_time=reminder_time,
        # "off": no daily recap (`/rekap` still answers), e.g. for an instance that only collects.
        recap_time=None if get.optional("MONEV_RECAP_TIME") == "off" else get.clock("MONEV_RECAP_TIME", time(16, 0)),
        overdue_reminder_days=get.integer("MONEV_OVERDUE_REMINDER_DAYS", 5, minimum=0, maximum=60),
    )


_WHATSAPP_REQUIRED = (
    "MONEV_WHATSAPP_PHONE_ID",
    "MONEV_WHATSAPP_TOKEN",
    "MONEV_WHATSAPP_APP_SECRET",
    "MONEV_WHATSAPP_VERIFY_TOKEN",
)


def _whatsapp(get: _Reader) -> dict[str, Any]:
    """The WhatsApp settings: any of them turns WhatsApp on, and then every one of the four is required.

    Without the app secret the webhook's signatures cannot be checked, so anybody could post as anybody.
    """
    values = {name: get.optional(name) for name in _WHATSAPP_REQUIRED}
    max_file_mb = get.integer(
        "MONEV_WHATSAPP_MAX_FILE_MB", WHATSAPP_MAX_FILE_MB, minimum=1, maximum=WHATSAPP_MAX_FILE_MB
    )
    base_url = get.text("MONEV_WHATSAPP_BASE_URL", PUBLIC_GRAPH_API).rstrip("/")
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
        raise SettingsError("MONEV_WHATSAPP_BASE_URL", "must be an http(s):// URL")
    common = {
        "whatsapp_base_url": base_url,
        "whatsapp_max_file_mb": max_file_mb,
        "whatsapp_mps": get.integer("MONEV_WHATSAPP_MPS", WHATSAPP_MPS, minimum=1, maximum=1000),
        "whatsapp_templates": _whatsapp_templates(get.optional("MONEV_WHATSAPP_TEMPLATES")),
    }
    if not any(values.values()):
        return common
    for name, value in values.items():
        if value is None:
            raise SettingsError(name, "is required when WhatsApp is on (any MONEV_WHATSAPP_* setting is set)")
    phone_id = values["MONEV_WHATSAPP_PHONE_ID"] or ""
    if not phone_id.isdigit():
        raise SettingsError("MONEV_WHATSAPP_PHONE_ID", "the phone number id is digits only")
    return {
        "whatsapp_phone_id": phone_id,
        "whatsapp_token": values["MONEV_WHATSAPP_TOKEN"],
        "whatsapp_app_secret": values["MONEV_WHATSAPP_APP_SECRET"],
        "whatsapp_verify_token": values["MONEV_WHATSAPP_VERIFY_TOKEN"],
        **common,
    }


def _whatsapp_templates(path_text: str | None) -> tuple[WhatsAppTemplate, ...]:
    """The TOML file of approved templates, checked at start so a typo stops the bot, not the first broadcast.

    One table per template key: `name` (as approved by Meta), `language` (default `id`) and the ordered `params`.
    """
    if path_text is None:
        return ()
    variable = "MONEV_WHATSAPP_TEMPLATES"
    path = Path(path_text).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(variable, f"cannot read {path} ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(variable, f"{path} is not valid TOML ({error})") from None
    templates: list[WhatsAppTemplate] = []
    for key, table in data.items():
        where = f"{path} [{key}]"
        if not isinstance(table, dict):
            raise SettingsError(variable, f"{where}: expected a table with name, language and params")
        unknown = sorted(set(table) - _TEMPLATE_FIELDS)
        if unknown:
            raise SettingsError(variable, f"{where}: unknown field(s) {', '.join(unknown)}")
        name, language, params = table.get("name"), table.get("language", "id"), table.get("params", [])
        if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
            raise SettingsError(variable, f"{where}: name must be the approved template name (a-z, 0-9, _)")
        if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
            raise SettingsError(variable, f"{where}: language must be a code such as id or en_US")
        if not isinstance(params, list) or not all(isinstance(p, str) and p.strip() for p in params):
            raise SettingsError(variable, f"{where}: params must be a list of parameter names")
        text = table.get("text")
        if text is not None and (not isinstance(text, str) or len(set(re.findall(r"{{(\d+)}}", text))) != len(params)):
            raise SettingsError(variable, f"{where}: text must have one {{{{n}}}} placeholder per entry of params")
        header = table.get("header")
        if header not in (None, "document"):
            raise SettingsError(variable, f'{where}: header can only be "document"')
        params_tuple = tuple(p.strip() for p in params)
        templates.append(WhatsAppTemplate(key, name, language, params_tuple, header_document=header == "document"))
    return tuple(templates)


def _check_webhook_url(url: str) -> None:
    """https:// with a host; http:// only to this machine (a local Bot API server may call plain HTTP)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise SettingsError("MONEV_WEBHOOK_URL", "must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise SettingsError("MONEV_WEBHOOK_URL", "must be an https:// URL (Telegram calls only HTTPS webhooks)")


def _database_url(url: str) -> str:
    """Only the drivers the bot runs on; the message never repeats the URL, which may hold a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError("MONEV_DATABASE_URL", f"not a database URL; {_DATABASE_URL_FORMS}") from None
    module = _DATABASE_DRIVERS.get(parsed.drivername)
    if module is None:
        raise SettingsError("MONEV_DATABASE_URL", f"unsupported driver {parsed.drivername!r}; {_DATABASE_URL_FORMS}")
    if importlib.util.find_spec(module) is None:
        raise SettingsError("MONEV_DATABASE_URL", f"needs {module}: pip install 'spbe-monev-bot[postgres]'")
    return url


def prepare_data_dir(data_dir: Path) -> None:
    """Create MONEV_DATA_DIR if needed and prove that it is writable (at start-up, before anything uses it)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise SettingsError("MONEV_DATA_DIR", f"{data_dir} is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        problem = f"cannot create or write {data_dir} ({error.strerror or error})"
        raise SettingsError("MONEV_DATA_DIR", problem) from None


class _Reader:
    """Typed access to the raw values; every failure names its variable."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def optional(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def integer(
        self, name: str, default: int, *, minimum: int, maximum: int | None = None, problem: str | None = None
    ) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise SettingsError(name, problem or f"must be {bounds}")
        return value

    def number(self, name: str, default: float, *, minimum: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(name, f"expected a number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(name, f"must be at least {minimum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "ya", "on"}:
            return True
        if lowered in {"0", "false", "no", "tidak", "off"}:
            return False
        raise SettingsError(name, f"expected true or false, got {raw!r}")

    def choice(self, name: str, default: str, allowed: set[str], *, upper: bool = False) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        value = raw.upper() if upper else raw.lower()
        if value not in allowed:
            raise SettingsError(name, f"expected one of {', '.join(sorted(allowed))}, got {raw!r}")
        return value

    def clock(self, name: str, default: time) -> time:
        raw = self.optional(name)
        if raw is None:
            return default
        match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", raw)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise SettingsError(name, f"expected a time HH:MM, got {raw!r}")
        return time(int(match[1]), int(match[2]))

    def zone(self, name: str, default: str) -> ZoneInfo:
        raw = self.text(name, default)
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(name, f"unknown time zone {raw!r}") from None
