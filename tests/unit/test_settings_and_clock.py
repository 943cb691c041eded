"""Settings are checked at start-up; the clock honours IVR_CLOCK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.clock import Clock
from ivr.domain.local_time import PARIS, given_instant, parse_instant
from ivr.domain.phones import InvalidPhoneNumber, digit_pairs, to_e164
from ivr.settings import FaxTransport, SettingsError, load_settings


def test_defaults_follow_the_contract(monkeypatch):
    for name in (
        "DATABASE_URL",
        "PUBLIC_BASE_URL",
        "FAX_TRANSPORT",
        "IVR_CLOCK",
        "TWILIO_AUTH_TOKEN",
        "OPERATOR_NUMBER",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.DATABASE_URL.startswith("sqlite:///") and "/var/" in settings.DATABASE_URL
    assert settings.PUBLIC_BASE_URL == "http://127.0.0.1:8000"
    assert settings.TWILIO_API_BASE_URL == "https://api.twilio.com"
    assert settings.FAX_TRANSPORT is FaxTransport.FOLDER
    assert str(settings.FAX_FOLDER).endswith("var/faxes")
    assert settings.TWILIO_AUTH_TOKEN is None and settings.OPERATOR_NUMBER is None


def test_values_are_typed_and_normalised(monkeypatch):
    monkeypatch.setenv("OPERATOR_NUMBER", "01 99 00 00 01")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ivr.example.fr/")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("IVR_CLOCK", "2026-12-24T23:00")
    monkeypatch.setenv("FAX_TRANSPORT", "smtp")
    monkeypatch.setenv("ALERT_SMS_NUMBERS", "06 39 98 01 01,, +33 1 99 00 00 01 ")
    monkeypatch.setenv("ALERT_EMAILS", " ops@example.fr ,Chef <chef@example.fr>")
    settings = load_settings()
    assert settings.ALERT_SMS_NUMBERS == "+33639980101, +33199000001"
    assert settings.ALERT_EMAILS == "ops@example.fr, Chef <chef@example.fr>"
    assert settings.OPERATOR_NUMBER == "+33199000001"
    assert settings.PUBLIC_BASE_URL == "https://ivr.example.fr"
    assert settings.DATABASE_URL == "postgresql+psycopg://u@h/db"
    assert datetime(2026, 12, 24, 23, 0, tzinfo=PARIS) == settings.IVR_CLOCK
    assert settings.FAX_TRANSPORT is FaxTransport.SMTP


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:////srv/ivr/ivr.sqlite3", "sqlite:////srv/ivr/ivr.sqlite3"),
        ("sqlite+pysqlite:////srv/ivr/ivr.sqlite3", "sqlite:////srv/ivr/ivr.sqlite3"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        (
            "postgresql+psycopg2://u@h:5433/db?sslmode=require",
            "postgresql+psycopg://u@h:5433/db?sslmode=require",
        ),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_any_sqlalchemy_url_of_sqlite_or_postgresql_is_taken(monkeypatch, given, used):
    """The contract says « SQLAlchemy URL »: the app speaks psycopg 3 to PostgreSQL whatever
    driver the URL was written for, rather than a traceback for a driver not installed."""
    monkeypatch.setenv("DATABASE_URL", given)
    taken = load_settings().DATABASE_URL
    assert taken == used


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_BASE_URL", "ivr.example.fr"),
        ("FAX_TRANSPORT", "pigeon"),
        ("EMERGENCY_FORWARD_NUMBER", "999"),
        ("IVR_CLOCK", "tomorrow"),
        ("IVR_CLOCK", "0001-01-01T00:00"),
        ("ALERT_SMS_NUMBERS", "+33639980101, garbage"),
        ("ALERT_EMAILS", "ops@example.fr, ops team"),
        ("DISPATCH_ROUNDS", "0"),
        ("DISPATCH_RETRY_MINUTES", "-5"),
        ("DATABASE_URL", "mysql://db/ivr"),
        ("DATABASE_URL", "ivr.sqlite3"),
        ("DATABASE_URL", "postgresql+asyncpg://u@h/db"),
        ("DATABASE_URL", "sqlite:ivr.sqlite3"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_secrets_are_never_echoed_in_errors(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:s3cret@host/db")
    monkeypatch.setenv("FAX_TRANSPORT", "pigeon")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "s3cret" not in str(error.value)


def test_clock_starts_at_ivr_clock_and_runs_on():
    start = parse_instant("2026-12-24T23:00:00")
    clock = Clock(start)
    first = clock.now()
    assert first.tzinfo is not None
    assert timedelta(0) <= first - start < timedelta(seconds=5)
    assert clock.now() >= first
    assert clock.local_now().utcoffset() == timedelta(hours=1)


def test_clock_jumps_forward_for_demos():
    clock = Clock()
    clock.jump_to(datetime(2027, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2027 and clock.now() - datetime(2027, 1, 1, tzinfo=UTC) < timedelta(
        seconds=5
    )


def test_instants_without_offset_are_paris_time():
    assert parse_instant("2026-07-14T12:00").utcoffset() == timedelta(hours=2)
    assert parse_instant("2026-12-25T08:00").utcoffset() == timedelta(hours=1)
    assert parse_instant("2026-12-25T08:00:00Z").utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["0001-01-01T00:00", "9999-12-31T23:00", "1999-12-31T23:00"])
def test_instants_out_of_the_programs_years_are_refused(text):
    with pytest.raises(ValueError, match="the year must be 2000 to 2199"):
        given_instant(text)


def test_an_open_ended_date_of_a_file_is_still_read():
    assert parse_instant("9999-12-31T00:00").year == 9999  # a manager's turn with no end


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("01 23 45 67 89", "+33123456789"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("0033123456789", "+33123456789"),
        ("06.39.98.12.34", "+33639981234"),
        ("+44 20 7946 0958", "+442079460958"),
        ("(01) 23-45-67-89", "+33123456789"),
    ],
)
def test_phone_numbers_in_every_usual_form(text, e164):
    assert to_e164(text) == e164


@pytest.mark.parametrize(
    "text", ["", "12", "01 23 45", "0123456789012", "abc", "+33 0 12 34 56 78"]
)
def test_not_phone_numbers(text):
    with pytest.raises(InvalidPhoneNumber):
        to_e164(text)


def test_numbers_read_in_pairs():
    assert digit_pairs("+33639981234") == "06 39 98 12 34"


@pytest.mark.parametrize(
    "text",
    [
        "06 39 98 12 34",
        "+33 6 39 98 12 34",
        "+33 (0)6 39 98 12 34",
        "0033639981234",
        "06.39.98.12.34",
    ],
)
def test_every_spelling_of_a_number_gives_the_same_answer(text):
    assert to_e164(text) == "+33639981234"


def test_overseas_numbers_in_national_form_get_their_country_code():
    assert to_e164("0690 12 34 56") == "+590690123456"  # Guadeloupe mobile
    assert to_e164("+33 6 90 12 34 56") == "+33690123456"  # written as French: kept
