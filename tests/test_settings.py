"""Settings: defaults, validation naming the variable, and the CLI's exit code 2."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.cli import run_cli
from bot.settings import SettingsError, load_settings


def test_defaults_follow_the_contract(tmp_path: Path) -> None:
    settings = load_settings({"MONEV_DATA_DIR": str(tmp_path)}, dotenv=None)
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'monev.sqlite3'}"
    assert settings.timezone.key == "Asia/Pontianak"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert (settings.workday_start, settings.workday_end) == (time(8), time(16))
    assert settings.telegram_max_file_mb == 20
    assert settings.channels == []
    assert (settings.reminder_time, settings.overdue_reminder_days) == (time(8), 5)


def test_reminder_settings_are_read() -> None:
    env = {"MONEV_REMINDER_TIME": "09.30", "MONEV_OVERDUE_REMINDER_DAYS": "0"}
    settings = load_settings(env, dotenv=None)
    assert (settings.reminder_time, settings.overdue_reminder_days) == (time(9, 30), 0)


def test_the_daily_recap_time_or_off() -> None:
    assert load_settings({"MONEV_RECAP_TIME": "15:30"}, dotenv=None).recap_time == time(15, 30)
    assert load_settings({"MONEV_RECAP_TIME": "off"}, dotenv=None).recap_time is None
    with pytest.raises(SettingsError, match="MONEV_RECAP_TIME"):
        load_settings({"MONEV_RECAP_TIME": "sore"}, dotenv=None)


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings({}, dotenv=None).data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MONEV_HTTP_PORT": "delapan"}, "MONEV_HTTP_PORT"),
        ({"MONEV_HTTP_PORT": "70000"}, "MONEV_HTTP_PORT"),
        ({"MONEV_TIMEZONE": "Asia/Atlantis"}, "MONEV_TIMEZONE"),
        ({"MONEV_LOG_LEVEL": "LOUD"}, "MONEV_LOG_LEVEL"),
        ({"MONEV_TELEGRAM_MAX_FILE_MB": "50"}, "MONEV_TELEGRAM_MAX_FILE_MB"),
        ({"MONEV_TELEGRAM_LOCAL_MODE": "kadang"}, "MONEV_TELEGRAM_LOCAL_MODE"),
        ({"MONEV_WEBHOOK_URL": "https://bot.example.go.id"}, "MONEV_WEBHOOK_SECRET"),
        (
            {"MONEV_WEBHOOK_URL": "https://x.go.id", "MONEV_WEBHOOK_SECRET": "no spaces!"},
            "MONEV_WEBHOOK_SECRET",
        ),
        ({"MONEV_WORKDAY_START": "25:00"}, "MONEV_WORKDAY_START"),
        ({"MONEV_WORKDAY_START": "16:00", "MONEV_WORKDAY_END": "08:00"}, "MONEV_WORKDAY_END"),
        ({"MONEV_TELEGRAM_TOKEN": "not-a-token"}, "MONEV_TELEGRAM_TOKEN"),
        ({"MONEV_REMINDER_TIME": "pagi"}, "MONEV_REMINDER_TIME"),
        ({"MONEV_REMINDER_TIME": "07:00"}, "MONEV_REMINDER_TIME"),
        ({"MONEV_REMINDER_TIME": "16:00"}, "MONEV_REMINDER_TIME"),
        ({"MONEV_WORKDAY_END": "12:00", "MONEV_REMINDER_TIME": "13:00"}, "MONEV_REMINDER_TIME"),
        ({"MONEV_OVERDUE_REMINDER_DAYS": "-1"}, "MONEV_OVERDUE_REMINDER_DAYS"),
        ({"MONEV_OVERDUE_REMINDER_DAYS": "lima"}, "MONEV_OVERDUE_REMINDER_DAYS"),
        ({"MONEV_TELEGRAM_MAX_FILE_MB": "-1"}, "MONEV_TELEGRAM_MAX_FILE_MB"),
        ({"MONEV_WEBHOOK_URL": "http://bot.example.go.id", "MONEV_WEBHOOK_SECRET": "abc"}, "MONEV_WEBHOOK_URL"),
        ({"MONEV_WEBHOOK_URL": "ftp://bot.example.go.id", "MONEV_WEBHOOK_SECRET": "abc"}, "MONEV_WEBHOOK_URL"),
        ({"MONEV_WEBHOOK_URL": "https://", "MONEV_WEBHOOK_SECRET": "abc"}, "MONEV_WEBHOOK_URL"),
        ({"MONEV_DATABASE_URL": "mysql+aiomysql://monev:pw@db/monev"}, "MONEV_DATABASE_URL"),
        ({"MONEV_DATABASE_URL": "sqlite:///monev.sqlite3"}, "MONEV_DATABASE_URL"),
        ({"MONEV_DATABASE_URL": "bukan url"}, "MONEV_DATABASE_URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, dotenv=None)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)


@pytest.mark.parametrize("value", ["-1", "0", "2001"])
@pytest.mark.parametrize("local_mode", ["false", "true"])
def test_the_file_limit_names_its_exact_range(value: str, local_mode: str) -> None:
    env = {"MONEV_TELEGRAM_MAX_FILE_MB": value, "MONEV_TELEGRAM_LOCAL_MODE": local_mode}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, dotenv=None)
    assert str(caught.value) == "MONEV_TELEGRAM_MAX_FILE_MB: must be between 1 and 20 (2000 with local mode)"


@pytest.mark.parametrize(
    "url", ["https://bot.example.go.id", "https://bot.example.go.id:8443/monev/", "http://127.0.0.1:8080"]
)
def test_webhook_urls_that_are_accepted(url: str) -> None:
    settings = load_settings({"MONEV_WEBHOOK_URL": url, "MONEV_WEBHOOK_SECRET": "abc"}, dotenv=None)
    assert settings.webhook_url == url.rstrip("/")


def test_the_http_webhook_message_says_https() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MONEV_WEBHOOK_URL": "http://bot.example.go.id", "MONEV_WEBHOOK_SECRET": "abc"}, dotenv=None)
    assert str(caught.value).startswith("MONEV_WEBHOOK_URL: must be an https:// URL")


def test_a_database_url_with_a_password_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MONEV_DATABASE_URL": "mysql://monev:sangat-rahasia@db/monev"}, dotenv=None)
    assert "sangat-rahasia" not in str(caught.value) and "'mysql'" in str(caught.value)


def test_the_supported_database_urls_are_accepted(tmp_path: Path) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}", "postgresql+asyncpg://monev:pw@db.local/monev"):
        assert load_settings({"MONEV_DATABASE_URL": url}, dotenv=None).database_url == url


def test_local_mode_lifts_the_file_limit() -> None:
    settings = load_settings({"MONEV_TELEGRAM_MAX_FILE_MB": "2000", "MONEV_TELEGRAM_LOCAL_MODE": "true"}, dotenv=None)
    assert settings.telegram_max_file_mb == 2000


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nMONEV_HTTP_PORT=9000\nexport MONEV_LOG_LEVEL='debug'\n", encoding="utf-8")
    settings = load_settings({"MONEV_HTTP_PORT": "9100"}, dotenv=dotenv)
    assert settings.http_port == 9100
    assert settings.log_level == "DEBUG"


def test_dotenv_inline_comments_quotes_and_export(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "MONEV_HTTP_HOST=0.0.0.0  # all interfaces\n"
        'export MONEV_TIMEZONE="Asia/Jakarta"   # WIB\n'
        "MONEV_TELEGRAM_BASE_FILE_URL='http://127.0.0.1:8081/file/bot#x'\n"
        'MONEV_TELEGRAM_BASE_URL="http://127.0.0.1:8081/bot${TOKEN}"\n'
        "MONEV_LOG_LEVEL = warning\n",
        encoding="utf-8",
    )
    settings = load_settings({}, dotenv=dotenv)
    assert settings.http_host == "0.0.0.0"
    assert settings.timezone.key == "Asia/Jakarta"
    assert settings.telegram_base_file_url == "http://127.0.0.1:8081/file/bot#x"  # a quoted # is not a comment
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot${TOKEN}"  # taken literally, no expansion
    assert settings.log_level == "WARNING"


def test_dotenv_inline_comment_reaches_the_settings_the_bot_uses(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("MONEV_HTTP_PORT=9000 # the port behind nginx\n", encoding="utf-8")
    assert load_settings({}, dotenv=dotenv).http_port == 9000


def test_a_bad_token_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MONEV_TELEGRAM_TOKEN": "12345:has spaces secret"}, dotenv=None)
    assert "secret" not in str(caught.value)


def test_cli_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONEV_TIMEZONE", "Mars/Olympus")
    assert run_cli(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MONEV_TIMEZONE" in err


WHATSAPP = {
    "MONEV_WHATSAPP_PHONE_ID": "106540352242922",
    "MONEV_WHATSAPP_TOKEN": "EAAMonevTestToken0123",
    "MONEV_WHATSAPP_APP_SECRET": "rahasia-aplikasi-0123",
    "MONEV_WHATSAPP_VERIFY_TOKEN": "token-verifikasi",
}


def test_whatsapp_settings_and_their_defaults() -> None:
    settings = load_settings(WHATSAPP, dotenv=None)
    assert settings.channels == ["whatsapp"]
    assert (settings.whatsapp_phone_id, settings.whatsapp_verify_token) == ("106540352242922", "token-verifikasi")
    assert settings.whatsapp_base_url == "https://graph.facebook.com"
    assert (settings.whatsapp_max_file_mb, settings.max_file_mb("whatsapp"), settings.max_file_mb("telegram")) == (
        100,
        100,
        20,
    )
    assert {"EAAMonevTestToken0123", "rahasia-aplikasi-0123", "token-verifikasi"} <= set(settings.secrets())
    redirected = load_settings({**WHATSAPP, "MONEV_WHATSAPP_BASE_URL": "http://127.0.0.1:9999/"}, dotenv=None)
    assert redirected.whatsapp_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("missing", sorted(WHATSAPP))
def test_whatsapp_refuses_to_start_without_any_of_its_four_settings(missing: str) -> None:
    env = {name: value for name, value in WHATSAPP.items() if name != missing}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, dotenv=None)
    assert caught.value.variable == missing
    assert not any(value in str(caught.value) for value in env.values())  # no secret in the message


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"MONEV_WHATSAPP_MAX_FILE_MB": "101"}, "MONEV_WHATSAPP_MAX_FILE_MB"),
        ({"MONEV_WHATSAPP_BASE_URL": "graph.facebook.com"}, "MONEV_WHATSAPP_BASE_URL"),
        ({"MONEV_WHATSAPP_PHONE_ID": "+62 856"}, "MONEV_WHATSAPP_PHONE_ID"),
    ],
)
def test_bad_whatsapp_values_name_the_variable(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**WHATSAPP, **extra}, dotenv=None)
    assert caught.value.variable == variable


EXAMPLE_TEMPLATES = Path(__file__).parent.parent / "bot" / "data" / "whatsapp-templates.example.toml"


def test_the_shipped_whatsapp_templates_load_one_per_kind_and_the_throughput_is_its_own_setting() -> None:
    settings = load_settings(
        {**WHATSAPP, "MONEV_WHATSAPP_TEMPLATES": str(EXAMPLE_TEMPLATES), "MONEV_WHATSAPP_MPS": "20"}, dotenv=None
    )
    keys = {t.key for t in settings.whatsapp_templates}
    assert {"pemberitahuan", "undangan", "pengingat", "eskalasi", "rekap", "rapat", "hasil_tinjauan"} <= keys
    undangan = settings.whatsapp_template("undangan")
    assert undangan is not None and undangan.language == "id" and undangan.header_document
    assert undangan.params[0] == "penerima" and "t.items" in undangan.params
    assert settings.whatsapp_mps == 20 and load_settings(WHATSAPP, dotenv=None).whatsapp_mps == 80
    assert load_settings(WHATSAPP, dotenv=None).whatsapp_template("undangan") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[undangan\nname = 1", "is not valid TOML"),
        ('[undangan]\nname = "Monev Undangan"\n', "[undangan]: name must be"),
        ('[undangan]\nname = "monev_undangan"\nlanguage = "Indonesia"\n', "[undangan]: language must be"),
        ('[undangan]\nname = "monev_undangan"\nparams = "t.title"\n', "[undangan]: params must be a list"),
        ('[undangan]\nname = "monev_undangan"\nnama = "x"\n', "[undangan]: unknown field(s) nama"),
        ('[rekap]\nname = "monev_rekap"\nparams = ["a"]\ntext = "Rekap {{1}} {{2}}"\n', "[rekap]: text must have"),
        ('[rekap]\nname = "monev_rekap"\nheader = "image"\n', '[rekap]: header can only be "document"'),
        ("judul = 3\n", "[judul]: expected a table"),
    ],
)
def test_a_bad_whatsapp_templates_file_stops_the_start_naming_the_file_and_key(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "templat.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings({**WHATSAPP, "MONEV_WHATSAPP_TEMPLATES": str(path)}, dotenv=None)
    assert caught.value.variable == "MONEV_WHATSAPP_TEMPLATES"
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_a_missing_whatsapp_templates_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"MONEV_WHATSAPP_TEMPLATES: cannot read .*tidak-ada\.toml"):
        load_settings({**WHATSAPP, "MONEV_WHATSAPP_TEMPLATES": str(tmp_path / "tidak-ada.toml")}, dotenv=None)
