"""Fax transports: the folder, Sinch's API (mocked with `responses`), email-to-fax (a real
local SMTP server). No test leaves the machine."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
import requests
import responses
from aiosmtpd.controller import Controller

from ivr.adapters.fax import (
    Fax,
    FolderFax,
    PermanentFaxError,
    SinchFax,
    SmtpFax,
    TransientFaxError,
    make_transport,
)
from ivr.settings import Settings, SettingsError

PDF = b"%PDF-1.4\n% a summary sheet\n%%EOF\n"
BASE = "https://fax.example.test"
FAXES = f"{BASE}/v3/projects/proj-1/faxes"
SECRET = "s3cret-key-secret"


def _fax(**changes: object) -> Fax:
    values: dict[str, object] = {
        "to": "+33478000001",
        "name": "CA0123-sheet-1",
        "pdf": PDF,
        "call_sid": "CA0123",
        "extra": {"agency": "LYE", "kind": "sheet"},
    }
    values.update(changes)
    return Fax(**values)  # type: ignore[arg-type]


# -- the fax itself ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "../etc/passwd", ".hidden", "a b", "a/b", "x" * 200])
def test_a_fax_name_must_be_file_safe(name):
    with pytest.raises(ValueError):
        _fax(name=name)


@pytest.mark.parametrize(
    "transport",
    [
        lambda tmp: FolderFax(tmp),
        lambda tmp: SinchFax(BASE, "proj-1", "key", SECRET, None),
        lambda tmp: SmtpFax("127.0.0.1", 9, "astreinte@example.test", "{digits}@fax.test"),
    ],
)
def test_a_bad_number_is_permanent_everywhere(transport, tmp_path):
    with pytest.raises(PermanentFaxError):
        transport(tmp_path).send(_fax(to="0478000001"))


# -- folder --------------------------------------------------------------------------------


def test_folder_writes_the_pdf_and_its_json(tmp_path):
    folder = tmp_path / "faxes" / "out"  # created on first use
    transport = FolderFax(folder)
    reference = transport.send(_fax())
    assert reference == "CA0123-sheet-1"
    assert (folder / "CA0123-sheet-1.pdf").read_bytes() == PDF
    meta = json.loads((folder / "CA0123-sheet-1.json").read_text())
    assert meta["to"] == "+33478000001" and meta["call_sid"] == "CA0123"
    assert meta["agency"] == "LYE" and meta["kind"] == "sheet"
    assert sorted(p.name for p in folder.iterdir()) == ["CA0123-sheet-1.json", "CA0123-sheet-1.pdf"]
    assert transport.status(reference) == "completed"
    # Readable by the pickup program of the folder's group, by nobody else.
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o640"}


def test_folder_on_a_file_system_without_modes_still_writes_the_sheet(tmp_path, monkeypatch):
    def refused(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refused)  # vfat, some network mounts
    reference = FolderFax(tmp_path).send(_fax())
    assert (tmp_path / f"{reference}.pdf").read_bytes() == PDF


def test_folder_extra_cannot_hide_the_recipient(tmp_path):
    FolderFax(tmp_path).send(_fax(extra={"to": "+33100000000", "call_sid": "CAother"}))
    meta = json.loads((tmp_path / "CA0123-sheet-1.json").read_text())
    assert meta["to"] == "+33478000001" and meta["call_sid"] == "CA0123"


def test_folder_sending_again_is_harmless(tmp_path):
    transport = FolderFax(tmp_path)
    first = transport.send(_fax())
    second = transport.send(_fax())
    assert first == second
    assert len(list(tmp_path.iterdir())) == 2


def test_folder_status_of_what_is_not_there(tmp_path):
    transport = FolderFax(tmp_path)
    assert transport.status("CA9-sheet-1") == "unknown"
    assert transport.status("../../etc/passwd") == "unknown"
    (tmp_path / "CA9-sheet-1.pdf").write_bytes(PDF)  # the JSON is the signal: not yet
    assert transport.status("CA9-sheet-1") == "unknown"


def test_folder_json_appears_last_beside_a_complete_pdf(tmp_path, monkeypatch):
    """What a watcher sees at each rename: never a JSON without its whole PDF."""
    seen: list[tuple[str, bytes | None]] = []
    real_replace = os.replace

    def watching_replace(source, target):
        real_replace(source, target)
        pdf = tmp_path / "CA0123-sheet-1.pdf"
        seen.append((Path(target).name, pdf.read_bytes() if pdf.exists() else None))

    monkeypatch.setattr(os, "replace", watching_replace)
    FolderFax(tmp_path).send(_fax())
    assert seen == [("CA0123-sheet-1.pdf", PDF), ("CA0123-sheet-1.json", PDF)]


def test_folder_failure_leaves_no_json_and_no_partial_file(tmp_path, monkeypatch):
    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(TransientFaxError, match="No space left"):
        FolderFax(tmp_path).send(_fax())
    assert list(tmp_path.iterdir()) == []  # neither the files nor their temporary copies


# -- Sinch Fax API v3 ----------------------------------------------------------------------


def _sinch(callback_url: str | None = None) -> SinchFax:
    return SinchFax(BASE + "/", "proj-1", "key-id", SECRET, callback_url, timeout=3)


def _form(request: requests.PreparedRequest) -> dict[str, Message]:
    """The multipart/form-data body, part by field name."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    message = BytesParser(policy=default_policy).parsebytes(head + body)
    return {
        str(part.get_param("name", header="content-disposition")): part
        for part in message.iter_parts()
    }


@responses.activate
def test_sinch_posts_the_pdf_as_multipart_with_basic_auth():
    responses.post(FAXES, json={"id": "01HXFAX", "status": "QUEUED"}, status=200)
    reference = _sinch(callback_url="https://ivr.example.test/fax/status").send(_fax())
    assert reference == "01HXFAX"
    (call,) = responses.calls
    assert call.request.url == FAXES
    expected = base64.b64encode(f"key-id:{SECRET}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"
    assert call.request.headers["Content-Type"].startswith("multipart/form-data")
    form = _form(call.request)
    assert form["to"].get_content().strip() == "+33478000001"
    assert form["callbackUrl"].get_content().strip() == "https://ivr.example.test/fax/status"
    assert form["file"].get_filename() == "CA0123-sheet-1.pdf"
    assert form["file"].get_content_type() == "application/pdf"
    assert form["file"].get_payload(decode=True) == PDF


@responses.activate
def test_sinch_without_callback_sends_none_and_reads_a_list_answer():
    responses.post(FAXES, json=[{"id": "01HXLIST"}], status=201)
    assert _sinch().send(_fax()) == "01HXLIST"
    assert "callbackUrl" not in _form(responses.calls[0].request)


@responses.activate
def test_sinch_same_name_twice_is_sent_once():
    responses.post(FAXES, json={"id": "01HXONCE"}, status=201)
    transport = _sinch()
    assert transport.send(_fax()) == transport.send(_fax()) == "01HXONCE"
    assert len(responses.calls) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
@responses.activate
def test_sinch_busy_or_down_is_transient(status):
    responses.post(FAXES, json={"message": "try later"}, status=status)
    with pytest.raises(TransientFaxError, match=str(status)):
        _sinch().send(_fax())


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
@responses.activate
def test_sinch_refusal_is_permanent(status):
    responses.post(FAXES, json={"message": "invalid number"}, status=status)
    with pytest.raises(PermanentFaxError, match=str(status)):
        _sinch().send(_fax())


@pytest.mark.parametrize(
    "failure", [requests.ConnectionError("connection refused"), requests.Timeout("read timed out")]
)
@responses.activate
def test_sinch_unreachable_is_transient(failure):
    responses.post(FAXES, body=failure)
    with pytest.raises(TransientFaxError):
        _sinch().send(_fax())


@responses.activate
def test_sinch_success_without_an_id_is_transient():
    responses.post(FAXES, body="<html>ok</html>", status=200)
    with pytest.raises(TransientFaxError):
        _sinch().send(_fax())
    responses.post(FAXES, json={"status": "QUEUED"}, status=200)
    with pytest.raises(TransientFaxError):
        _sinch().send(_fax())


@responses.activate
def test_sinch_never_shows_the_secret_or_the_pdf(caplog):
    caplog.set_level("DEBUG")
    responses.post(FAXES, json={"id": "01HX"}, status=201)
    transport = _sinch()
    transport.send(_fax())
    responses.post(FAXES, json={"message": "bad"}, status=400)
    with pytest.raises(PermanentFaxError) as refused:
        transport.send(_fax(name="CA0123-sheet-2"))
    shown = caplog.text + str(refused.value) + repr(transport)
    assert SECRET not in shown and "summary sheet" not in shown


@pytest.mark.parametrize(
    ("sinch", "ours"),
    [
        ("QUEUED", "queued"),
        ("IN_PROGRESS", "in_progress"),
        ("COMPLETED", "completed"),
        ("FAILURE", "failed"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
@responses.activate
def test_sinch_status_is_mapped(sinch, ours):
    responses.get(f"{FAXES}/01HX", json={"id": "01HX", "status": sinch})
    assert _sinch().status("01HX") == ours


@responses.activate
def test_sinch_status_of_an_unknown_fax_and_of_an_outage():
    responses.get(f"{FAXES}/01HXGONE", json={"message": "not found"}, status=404)
    assert _sinch().status("01HXGONE") == "unknown"
    responses.get(f"{FAXES}/01HXLATER", status=503)
    with pytest.raises(TransientFaxError):
        _sinch().status("01HXLATER")


# -- email to fax --------------------------------------------------------------------------


class _Gateway:
    """An aiosmtpd handler: keeps what it accepts, refuses some recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("0999"):
            return "550 5.1.1 no such fax number"
        if address.startswith("0888"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, _class=EmailMessage, policy=default_policy)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gateway() -> Iterator[tuple[_Gateway, int]]:
    handler = _Gateway()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _smtp(port: int) -> SmtpFax:
    return SmtpFax(
        "127.0.0.1", port, "Astreinte <astreinte@example.test>", "{digits}@fax.test", timeout=5
    )


def test_smtp_mails_the_pdf_to_the_gateway_address(gateway):
    handler, port = gateway
    transport = _smtp(port)
    reference = transport.send(_fax())
    (recipients, message), *_ = handler.received
    assert recipients == ["0478000001@fax.test"]
    assert "CA0123-sheet-1" in message["Subject"]
    assert message["Message-ID"] == reference == "<CA0123-sheet-1@example.test>"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "CA0123-sheet-1.pdf"
    assert attachment.get_content() == PDF
    assert transport.status(reference) == "completed"


def test_smtp_same_name_gives_the_same_message_id(gateway):
    handler, port = gateway
    transport = _smtp(port)
    assert transport.send(_fax()) == transport.send(_fax())
    assert handler.received[0][1]["Message-ID"] == handler.received[1][1]["Message-ID"]


def test_smtp_refused_recipient_is_permanent(gateway):
    _, port = gateway
    with pytest.raises(PermanentFaxError, match="550"):
        _smtp(port).send(_fax(to="+33999000000"))


def test_smtp_recipient_refused_for_now_is_transient(gateway):
    _, port = gateway
    with pytest.raises(TransientFaxError, match="450"):
        _smtp(port).send(_fax(to="+33888000000"))


def test_smtp_without_a_server_is_transient():
    with pytest.raises(TransientFaxError):
        _smtp(_free_port()).send(_fax())


@pytest.mark.parametrize(
    ("number", "pattern", "address"),
    [
        ("+33478000001", "{digits}@fax.test", "0478000001@fax.test"),
        ("+33800473333", "{digits}@fax.test", "0800473333@fax.test"),
        ("+441632960000", "{digits}@fax.test", "00441632960000@fax.test"),
        ("+33478000001", "fax+{number}@relay.test", "fax++33478000001@relay.test"),
    ],
)
def test_smtp_gateway_address(number, pattern, address):
    assert SmtpFax("127.0.0.1", 25, "a@b.test", pattern).address_for(number) == address


@pytest.mark.parametrize("pattern", ["{phone}@fax.test", "{0}@fax.test", "{digits@fax.test"])
def test_smtp_bad_pattern_fails_at_start(pattern):
    with pytest.raises(ValueError):
        SmtpFax("127.0.0.1", 25, "a@b.test", pattern)


# -- choosing the transport ----------------------------------------------------------------


def _settings(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "FAX_FOLDER": tmp_path,
        "FAX_HTTP_PROJECT_ID": None,
        "FAX_HTTP_KEY_ID": None,
        "FAX_HTTP_KEY_SECRET": None,
    }
    return Settings(**{**base, **values})  # type: ignore[arg-type]


def test_make_transport_follows_fax_transport(tmp_path):
    folder = make_transport(_settings(tmp_path, FAX_TRANSPORT="folder"))
    assert isinstance(folder, FolderFax) and folder.folder == tmp_path
    sinch = make_transport(
        _settings(
            tmp_path,
            FAX_TRANSPORT="http",
            FAX_HTTP_BASE_URL=BASE,
            FAX_HTTP_PROJECT_ID="proj-1",
            FAX_HTTP_KEY_ID="key-id",
            FAX_HTTP_KEY_SECRET=SECRET,
        ),
        callback_url="https://ivr.example.test/fax/status",
    )
    assert isinstance(sinch, SinchFax)
    assert sinch.faxes_url == FAXES and sinch.callback_url == "https://ivr.example.test/fax/status"
    smtp = make_transport(
        _settings(tmp_path, FAX_TRANSPORT="smtp", FAX_SMTP_HOST="relay.test", FAX_SMTP_PORT=2525)
    )
    assert isinstance(smtp, SmtpFax) and (smtp.host, smtp.port) == ("relay.test", 2525)


def test_make_transport_names_what_is_missing(tmp_path):
    with pytest.raises(SettingsError, match="FAX_HTTP_KEY_ID, FAX_HTTP_KEY_SECRET"):
        make_transport(_settings(tmp_path, FAX_TRANSPORT="http", FAX_HTTP_PROJECT_ID="p"))
    with pytest.raises(SettingsError, match="FAX_SMTP_ADDRESS"):
        make_transport(_settings(tmp_path, FAX_TRANSPORT="smtp", FAX_SMTP_ADDRESS="{nope}@x"))
