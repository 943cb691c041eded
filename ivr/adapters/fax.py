"""Sending the summary sheet by fax, through the transport FAX_TRANSPORT names.

- `folder`: `NAME.pdf` and `NAME.json` written into FAX_FOLDER, for a watcher (or a person);
- `http`: Sinch Fax API v3;
- `smtp`: an email-to-fax gateway, one email with the PDF attached per fax.

Every failure is a provider's error (`ivr.adapters.providers`): TransientFaxError when the
same fax may go later, as it is (provider down, rate limited, network); PermanentFaxError when
sending it again as it is cannot help (bad number, refused request, bad credentials).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import smtplib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

import requests  # type: ignore[import-untyped, unused-ignore]

from ivr.adapters.providers import PermanentProviderError, TransientProviderError
from ivr.domain.phones import digit_pairs
from ivr.settings import FaxTransport as TransportName
from ivr.settings import Settings, SettingsError

log = logging.getLogger(__name__)

FaxStatus = Literal["queued", "in_progress", "completed", "failed", "unknown"]

# A name becomes a file name and a Message-ID: letters, digits and `._-` only, no leading dot
# (hidden files are the folder transport's temporary files).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class TransientFaxError(TransientProviderError):
    """Try the same fax again later."""


class PermanentFaxError(PermanentProviderError):
    """Sending the same fax again will fail again."""


@dataclass(frozen=True)
class Fax:
    """One sheet to one fax number. `name` is unique per sheet and recipient, chosen by the
    caller (e.g. `CA123-sheet-1`): sending the same name again is the same fax."""

    to: str  # E.164
    name: str
    pdf: bytes = field(repr=False)
    call_sid: str | None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SAFE_NAME.fullmatch(self.name):
            raise ValueError(f"not a file-safe fax name: {self.name!r}")


class FaxTransport(Protocol):
    def send(self, fax: Fax) -> str:
        """Hand the fax over; return the provider's reference for `status`."""
        ...

    def status(self, reference: str) -> FaxStatus: ...


def _dialable(fax: Fax) -> str:
    """The fax's number, if it is one; a bad number will not get better on a retry."""
    if not _E164.fullmatch(fax.to):
        raise PermanentFaxError(f"fax {fax.name}: not an E.164 number: {fax.to!r}")
    return fax.to


# -- folder --------------------------------------------------------------------------------


class FolderFax:
    """Writes `NAME.pdf`, then `NAME.json` beside it (docs/contract.md, FAX_FOLDER).

    Each file appears whole (temporary file, then rename) and the JSON last, so a watcher that
    sees `NAME.json` finds `NAME.pdf` complete. Sending the same name again rewrites the same
    files; the reference is the name.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, fax: Fax) -> str:
        to = _dialable(fax)
        # The contract's keys last: `extra` cannot hide where the fax goes.
        meta = {**fax.extra, "name": fax.name, "to": to, "call_sid": fax.call_sid}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_whole(self.folder / f"{fax.name}.pdf", fax.pdf)
            _write_whole(
                self.folder / f"{fax.name}.json",
                json.dumps(meta, ensure_ascii=False, indent=2).encode(),
            )
        except OSError as error:  # disk full, permissions: an operator can fix it, retry later
            raise TransientFaxError(
                f"fax {fax.name}: cannot write to {self.folder}: {error}"
            ) from error
        log.info("fax %s to %s written to %s", fax.name, to, self.folder)
        return fax.name

    def status(self, reference: str) -> FaxStatus:
        if not _SAFE_NAME.fullmatch(reference):
            return "unknown"
        written = all((self.folder / f"{reference}.{kind}").is_file() for kind in ("pdf", "json"))
        return "completed" if written else "unknown"


# The program that picks the faxes up may run as another user of the same group (the group of
# the worker, or the folder's when it is setgid); a sheet's personal data is for nobody else
# (mkstemp's own mode, 0600, would shut that program out).
FAX_FILE_MODE = 0o640


def _write_whole(path: Path, content: bytes) -> None:
    """Replace `path` with `content` in one step; the temporary file is hidden (`.` first)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            _readable_by_group(file.fileno())
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _readable_by_group(descriptor: int) -> None:
    """Mode 0640; a file system that keeps no modes (vfat, some network mounts) refuses it,
    and the sheet goes all the same, with the mode it gives."""
    try:
        os.fchmod(descriptor, FAX_FILE_MODE)
    except OSError as error:
        log.warning("fax file mode left as is: %s", error)


# -- Sinch Fax API v3 ----------------------------------------------------------------------

_SINCH_STATUSES: dict[str, FaxStatus] = {
    "QUEUED": "queued",
    "IN_PROGRESS": "in_progress",
    "COMPLETED": "completed",
    "FAILURE": "failed",
}


class SinchFax:
    """`POST /v3/projects/{project}/faxes` (multipart: `to`, `file`), HTTP basic auth.

    Sinch has no idempotency key: a fax sent again by name from this process gets the first
    reference back, but a request that timed out after Sinch took it may be sent twice. A
    second copy of a sheet is the lesser harm.
    """

    def __init__(
        self,
        base_url: str,
        project_id: str,
        key_id: str,
        key_secret: str,
        callback_url: str | None,
        timeout: float = 10,
    ) -> None:
        self.faxes_url = f"{base_url.rstrip('/')}/v3/projects/{project_id}/faxes"
        self.callback_url = callback_url
        self.timeout = timeout
        self._session = requests.Session()
        self._session.auth = (key_id, key_secret)
        self._sent: dict[str, str] = {}  # name -> Sinch id, for sends repeated in-process

    def __repr__(self) -> str:  # never show the secret
        return f"SinchFax({self.faxes_url!r})"

    def send(self, fax: Fax) -> str:
        if fax.name in self._sent:
            return self._sent[fax.name]
        form = {"to": _dialable(fax)}
        if self.callback_url:
            form["callbackUrl"] = self.callback_url
        files = {"file": (f"{fax.name}.pdf", fax.pdf, "application/pdf")}
        response = self._call("POST", self.faxes_url, fax.name, data=form, files=files)
        reference = _fax_id(_answer(response, fax.name), fax.name)
        self._sent[fax.name] = reference
        log.info("fax %s to %s accepted by Sinch as %s", fax.name, fax.to, reference)
        return reference

    def status(self, reference: str) -> FaxStatus:
        response = self._call("GET", f"{self.faxes_url}/{quote(reference, safe='')}", reference)
        if response.status_code == 404:
            return "unknown"
        answer = _answer(response, reference)
        status = str(answer.get("status", "")) if isinstance(answer, dict) else ""
        return _SINCH_STATUSES.get(status.upper(), "unknown")

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        try:
            return self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:  # refused, reset, timed out, DNS
            # The message names the URL and the cause, never the credentials (a header).
            raise TransientFaxError(f"fax {what}: Sinch unreachable: {error!s:.300}") from None


def _answer(response: Any, what: str) -> Any:
    """The JSON answer, or the fax error the HTTP status calls for."""
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientFaxError(f"fax {what}: {_described(response)}")
    if response.status_code >= 400:  # bad number, bad request, bad credentials
        raise PermanentFaxError(f"fax {what}: {_described(response)}")
    try:
        return response.json()
    except ValueError:
        raise TransientFaxError(f"fax {what}: Sinch answered without JSON") from None


def _described(response: Any) -> str:
    """Status and the provider's own words, short: enough to act on, nothing of ours."""
    return f"Sinch answered {response.status_code}: {response.text[:200]!r}"


def _fax_id(answer: Any, name: str) -> str:
    # One recipient: one fax object; later API versions answer a list of them.
    fax = answer[0] if isinstance(answer, list) and answer else answer
    reference = fax.get("id") if isinstance(fax, dict) else None
    if not reference:
        # Taken but not named: sending again risks a duplicate, losing the sheet is worse.
        raise TransientFaxError(f"fax {name}: Sinch answered without a fax id")
    return str(reference)


# -- email to fax --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpFax:
    """One email per fax, the PDF attached, to a gateway address built from the number.

    `address_pattern` takes `{number}` (E.164) and `{digits}` (`0123456789`; `0044...` abroad).
    The Message-ID comes from the fax's name, so a gateway can drop a duplicate; it is the
    reference. Email-to-fax tells nothing back: an accepted email is a completed fax.
    """

    host: str
    port: int
    sender: str
    address_pattern: str
    timeout: float = 30

    def __post_init__(self) -> None:
        self.address_for("+33100000000")  # a bad pattern fails at start-up, not at night

    def address_for(self, number: str) -> str:
        national = digit_pairs(number).replace(" ", "")
        digits = "00" + national[1:] if national.startswith("+") else national
        try:
            return self.address_pattern.format(number=number, digits=digits)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"fax address pattern {self.address_pattern!r} takes only {{number}} "
                f"and {{digits}}: {error!r}"
            ) from None

    def send(self, fax: Fax) -> str:
        message = self._message(fax, self.address_for(_dialable(fax)))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as server:
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise _by_code(min(codes, default=550), f"fax {fax.name}: recipient refused") from None
        except smtplib.SMTPResponseException as error:
            raise _by_code(error.smtp_code, f"fax {fax.name}: {error.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as error:  # refused, timed out, disconnected
            raise TransientFaxError(f"fax {fax.name}: mail server: {error!r}") from None
        log.info("fax %s to %s mailed to the gateway", fax.name, fax.to)
        return str(message["Message-ID"])

    def status(self, reference: str) -> FaxStatus:
        return "completed"

    def _message(self, fax: Fax, address: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = f"Fax {fax.name}"
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{fax.name}@{_domain(self.sender)}>"
        # No body text: many gateways fax it as a cover page, and the sheet is one page.
        message.set_content("")
        message.add_attachment(
            fax.pdf, maintype="application", subtype="pdf", filename=f"{fax.name}.pdf"
        )
        return message


def _by_code(code: int, words: str) -> TransientFaxError | PermanentFaxError:
    """SMTP's own verdict: 4xx is "try again later", 5xx is "no"."""
    kind = TransientFaxError if 400 <= code < 500 else PermanentFaxError
    return kind(f"{words} ({code})")


def _domain(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip(" >")
    return domain or "localhost"


# -- choosing ------------------------------------------------------------------------------


def fax_callback_token(settings: Settings) -> str | None:
    """What the fax provider's callback URL carries to be believed (it signs nothing):
    derived from SECRET_KEY, so that every process agrees; none without one."""
    if not settings.SECRET_KEY:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), b"fax-callback", hashlib.sha256)
    return digest.hexdigest()[:32]


def make_transport(settings: Settings, callback_url: str | None = None) -> FaxTransport:
    """The transport FAX_TRANSPORT names; SettingsError names what is missing or wrong."""
    if settings.FAX_TRANSPORT == TransportName.HTTP:
        return _sinch(settings, callback_url)
    if settings.FAX_TRANSPORT == TransportName.SMTP:
        try:
            return SmtpFax(
                settings.FAX_SMTP_HOST,
                settings.FAX_SMTP_PORT,
                settings.FAX_SMTP_FROM,
                settings.FAX_SMTP_ADDRESS,
            )
        except ValueError as error:
            raise SettingsError(f"invalid settings: FAX_SMTP_ADDRESS: {error}") from None
    return FolderFax(settings.FAX_FOLDER)


def _sinch(settings: Settings, callback_url: str | None) -> SinchFax:
    required = {
        "FAX_HTTP_PROJECT_ID": settings.FAX_HTTP_PROJECT_ID,
        "FAX_HTTP_KEY_ID": settings.FAX_HTTP_KEY_ID,
        "FAX_HTTP_KEY_SECRET": settings.FAX_HTTP_KEY_SECRET,
    }
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise SettingsError(f"invalid settings: FAX_TRANSPORT=http needs {', '.join(missing)}")
    return SinchFax(
        settings.FAX_HTTP_BASE_URL,
        str(settings.FAX_HTTP_PROJECT_ID),
        str(settings.FAX_HTTP_KEY_ID),
        str(settings.FAX_HTTP_KEY_SECRET),
        callback_url,
    )
