"""Settings from the environment (docs/contract.md), validated once at start-up."""

from __future__ import annotations

import os
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ivr.clock import Clock
from ivr.domain.emails import is_email_address
from ivr.domain.local_time import given_instant
from ivr.domain.phones import InvalidPhoneNumber, to_e164

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _phone(value: str) -> str:
    try:
        return to_e164(value)
    except InvalidPhoneNumber as error:
        raise ValueError(str(error)) from None


PhoneNumber = Annotated[str, AfterValidator(_phone)]


def listed(value: str) -> list[str]:
    """The items of a comma-separated setting (ALERT_EMAILS, ALERT_SMS_NUMBERS)."""
    return [item.strip() for item in value.split(",") if item.strip()]


class FaxTransport(StrEnum):
    FOLDER = "folder"
    HTTP = "http"
    SMTP = "smtp"


class Settings(BaseSettings):
    """Every variable of docs/contract.md, plus the project's own (documented in README.md)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    DATABASE_URL: str = Field(default=f"sqlite:///{PROJECT_ROOT / 'var' / 'ivr.sqlite3'}")
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_AUTH_TOKEN_SECONDARY: str | None = None
    TWILIO_API_BASE_URL: str = "https://api.twilio.com"
    IVR_CALLER_ID: PhoneNumber | None = None
    FAX_TRANSPORT: FaxTransport = FaxTransport.FOLDER
    FAX_FOLDER: Path = PROJECT_ROOT / "var" / "faxes"
    NATIONAL_DUTY_NUMBER: PhoneNumber | None = None
    OPERATOR_NUMBER: PhoneNumber | None = None
    EMERGENCY_FORWARD_NUMBER: PhoneNumber | None = None
    IVR_CLOCK: datetime | None = None
    SECRET_KEY: str | None = None
    # The project's own (README.md): the voice callers hear, and speech recognition.
    IVR_VOICE: str = "Polly.Lea-Neural"
    IVR_SPEECH: bool = True
    GAS_EMERGENCY_NUMBER: str = "0 800 47 33 33"
    # The fax transports (FAX_TRANSPORT=http: Sinch Fax API v3; smtp: an email-to-fax gateway
    # whose address pattern takes {number}, the E.164 number, or {digits}, the national one).
    FAX_HTTP_BASE_URL: str = "https://fax.api.sinch.com"
    FAX_HTTP_PROJECT_ID: str | None = None
    FAX_HTTP_KEY_ID: str | None = None
    FAX_HTTP_KEY_SECRET: str | None = None
    FAX_SMTP_HOST: str = "127.0.0.1"
    FAX_SMTP_PORT: int = 25
    FAX_SMTP_FROM: str = "astreinte@localhost"
    FAX_SMTP_ADDRESS: str = "{digits}@fax.invalid"
    # The dispatcher: after every line of a request was tried without a person, try again
    # this many minutes later, this many rounds in all.
    DISPATCH_RETRY_MINUTES: float = Field(default=10.0, gt=0)
    DISPATCH_ROUNDS: int = Field(default=2, ge=1)
    # Text messages to the client (ivr.services.caller_texts): a confirmation after the call,
    # then news of the technician; only ever to a mobile that did not answer STOP.
    CALLER_TEXTS: bool = True
    # Twilio places this many calls a second for the account (1 unless raised with Twilio) and
    # queues the rest; every worker together stays under it, so no queue forms ahead of a
    # danger call. Each worker keeps this many jobs (provider requests) in flight at once.
    TWILIO_CALLS_PER_SECOND: float = Field(default=1.0, gt=0)
    # Who hears of each new alert at once (comma-separated): e-mail through this SMTP server,
    # text messages from IVR_CALLER_ID. Alerts of one kind are sent at most once per quiet
    # period; the ones that come meanwhile follow together at its end.
    ALERT_EMAILS: str = ""
    ALERT_SMS_NUMBERS: str = ""
    ALERT_SMTP_HOST: str = "127.0.0.1"
    ALERT_SMTP_PORT: int = 25
    ALERT_SMTP_FROM: str = "astreinte@localhost"
    ALERT_QUIET_MINUTES: float = Field(default=15.0, ge=0)
    # `/metrics` (Prometheus) answers only a scrape that sends "Authorization: Bearer <it>";
    # unset, `/metrics` does not exist.
    METRICS_TOKEN: str | None = None
    # Logs as JSON lines (production: the journal, a collector) or as text (people).
    LOG_FORMAT: Literal["text", "json"] = "text"
    WORKER_THREADS: int = Field(default=4, ge=1, le=12)  # within the pool: 5 + 10 overflow
    # The demo: the phone simulator page, a fake Twilio REST API in the app, and the
    # dispatcher's worker in the web process (one clock for both). Never in production.
    IVR_SIMULATOR: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-* headers are believed (0: none).
    IVR_TRUSTED_PROXIES: int = 0
    # Callers' recordings are deleted, at Twilio and here, this many days after they were
    # made (about six months: the CNIL's guidance for call recordings).
    RECORDING_RETENTION_DAYS: int = Field(default=183, ge=1)
    # Where client files sent from the back office wait for the worker to import them.
    UPLOAD_FOLDER: Path = PROJECT_ROOT / "var" / "uploads"
    # Where recorded prompts (audio files uploaded in the back office) are kept.
    MEDIA_FOLDER: Path = PROJECT_ROOT / "var" / "media"

    @field_validator("PUBLIC_BASE_URL", "TWILIO_API_BASE_URL", "FAX_HTTP_BASE_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme, separator, rest = value.partition("://")
        driver = _DATABASE_DRIVERS.get(scheme.lower()) if separator else None
        if driver is None:
            raise ValueError("must be sqlite:///PATH or postgresql://... (driver psycopg)")
        return f"{driver}://{rest}"

    @field_validator("ALERT_SMS_NUMBERS")
    @classmethod
    def _phones(cls, value: str) -> str:
        # A typo here would be found the night an alert is texted to no one.
        return ", ".join(_phone(number) for number in listed(value))

    @field_validator("ALERT_EMAILS")
    @classmethod
    def _emails(cls, value: str) -> str:
        items = listed(value)
        for item in items:  # `ops@example.fr` or `Exploitation <ops@example.fr>`
            if not is_email_address(parseaddr(item)[1]):
                raise ValueError(f"{item!r} is not an e-mail address")
        return ", ".join(items)

    @field_validator("IVR_CLOCK", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            return given_instant(value)
        return value or None

    @field_validator(
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_AUTH_TOKEN_SECONDARY",
        "IVR_CALLER_ID",
        "NATIONAL_DUTY_NUMBER",
        "OPERATOR_NUMBER",
        "EMERGENCY_FORWARD_NUMBER",
        "SECRET_KEY",
        "FAX_HTTP_PROJECT_ID",
        "FAX_HTTP_KEY_ID",
        "FAX_HTTP_KEY_SECRET",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    def make_clock(self) -> Clock:
        return Clock(self.IVR_CLOCK)


# The SQLAlchemy URL schemes DATABASE_URL may have, and the driver the app speaks through:
# SQLite's own, or psycopg 3 (its COPY loads the client file) for any PostgreSQL URL, be it
# Heroku's driver-less `postgres://` or one written for psycopg2 (libpq's options are the same).
_POSTGRESQL = "postgresql+psycopg"
_DATABASE_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgres": _POSTGRESQL,
    "postgresql": _POSTGRESQL,
    "postgresql+psycopg": _POSTGRESQL,
    "postgresql+psycopg2": _POSTGRESQL,
}

_SECRETS = {
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_SECONDARY",
    "SECRET_KEY",
    "DATABASE_URL",
    "FAX_HTTP_KEY_SECRET",
}


def _describe(error: Any) -> str:
    name = ".".join(str(part) for part in error["loc"])
    shown = "" if name in _SECRETS else f" (got {error.get('input')!r})"
    return f"{name}: {error['msg']}{shown}"


class SettingsError(Exception):
    """A bad environment variable, with a message fit for an operator."""


def check_for_calls(settings: Settings) -> None:
    """What answering calls needs outside the demo: a danger call always reaches someone, so
    the last resort of every escalation chain must be set before the first call."""
    if not settings.IVR_SIMULATOR and not settings.NATIONAL_DUTY_NUMBER:
        raise SettingsError(
            "invalid settings: NATIONAL_DUTY_NUMBER is needed: it is called when a danger "
            "finds no regional manager on duty (or none answers); only the demo "
            "(IVR_SIMULATOR=true) runs without it"
        )


# What deploy/ivr.env.example holds where each installation must put its own value.
PLACEHOLDER = "change-me"


def load_settings(**overrides: object) -> Settings:
    """Read the environment; on a bad value, raise SettingsError naming the variable."""
    given = {**os.environ, **overrides}
    left = [name for name in Settings.model_fields if str(given.get(name)).startswith(PLACEHOLDER)]
    if left:  # a copied example: a public SECRET_KEY, danger calls to a made-up number
        raise SettingsError(
            f"invalid settings: {', '.join(left)} still hold the example's {PLACEHOLDER!r}: "
            "set this installation's own values, or empty those it does not use "
            "(deploy/ivr.env.example says what each is)"
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(_describe(e) for e in error.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
