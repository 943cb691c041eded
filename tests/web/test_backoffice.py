"""The back office's doors: every page needs a login and the right role, every form its
CSRF token; an account sees only its agency's or region's calls."""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select

from ivr.adapters.orm import AlertRow, AuditRow, CallRow, PromptVersionRow, RecordingRow
from ivr.services.accounts import add_user
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, DEMO, log_in, sign

PASSWORD = "a long enough password"
ACCOUNTS = {
    "admin": ("admin@example.fr", {}),
    "manager": ("idf@example.fr", {"region": "IDF"}),
    "manager_est": ("est@example.fr", {"region": "EST"}),
    "agency": ("paris@example.fr", {"agency": "0751"}),
    "agency_other": ("metz@example.fr", {"agency": "5701"}),
}


@pytest.fixture
def office(make_app, demo, clock):
    """The app with one account per role, and one call of agency 0751 (Paris, IDF)."""
    for role, (email, scope) in ACCOUNTS.items():
        add_user(demo, clock, email, PASSWORD, role.split("_")[0], **scope)
    app = make_app(WTF_CSRF_ENABLED=True)
    call = PhoneCall(
        FlaskTransport(app),
        BASE_URL,
        AUTH_TOKEN,
        from_="+33611111111",
        callees={TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)},
    )
    identify(call, "10000002")
    through_details(call)
    call.leave_message(12)
    with demo.snapshot() as session:
        call_id = session.scalars(select(CallRow.id)).one()
        recording_id = session.scalars(select(RecordingRow.id)).one()
    app.config["TEST_RECORDING_ID"] = recording_id
    return app, call_id


def logged_in(app, role: str):
    return log_in(app, ACCOUNTS[role][0], PASSWORD)


def pages(call_id: int, recording_id: int = 1) -> dict[str, tuple[str, str]]:
    """Every back-office route: (method, path)."""
    return {
        "home": ("GET", "/"),
        "calls": ("GET", "/calls"),
        "call": ("GET", f"/calls/{call_id}"),
        "sheet": ("GET", f"/calls/{call_id}/sheet.pdf"),
        "recording": ("GET", f"/recordings/{recording_id}/audio"),
        "morning": ("GET", "/morning"),
        "processed": ("POST", f"/calls/{call_id}/processed"),
        "unprocessed": ("POST", f"/calls/{call_id}/unprocessed"),
        "retry": ("POST", "/jobs/1/retry"),
        "prompts": ("GET", "/prompts"),
        "prompt": ("GET", "/prompts/welcome"),
        "prompt_save": ("POST", "/prompts/welcome"),
        "rollback": ("POST", "/prompts/welcome/rollback/1"),
        "prompt_audio": ("POST", "/prompts/welcome/audio"),
        "operations": ("GET", "/operations"),
        "reference": ("GET", "/reference"),
        "pin": ("POST", "/reference/pin"),
    }


ADMIN_ONLY = {
    "prompts",
    "prompt",
    "prompt_save",
    "rollback",
    "prompt_audio",
    "operations",
    "reference",
    "pin",
}
# Who sees the Paris call (agency 0751, region IDF).
SEES_THE_CALL = {"admin", "manager", "agency"}


def test_every_route_is_in_the_matrix(office):
    app, call_id = office
    ours = {
        rule.rule
        for rule in app.url_map.iter_rules()
        # Public by design: Twilio's and the fax provider's (signed their own way), the
        # recorded prompts Twilio fetches to play, static files, the demo's simulator.
        if not rule.rule.startswith(("/twilio", "/fax", "/static", "/simulator", "/media"))
        # /metrics answers Prometheus's bearer token only (tests/web/test_metrics.py).
        and rule.rule not in ("/login", "/logout", "/healthz", "/livez", "/metrics")
    }
    listed = {re.sub(r"\d+", "X", path) for _, path in pages(call_id).values()}
    normalised = {re.sub(r"<[^>]+>", "X", rule) for rule in ours}
    assert normalised <= {p.replace("welcome", "X") for p in listed}, normalised - listed


def test_a_logged_out_visitor_sees_nothing_but_the_login_page(office):
    app, call_id = office
    client = app.test_client()
    for name, (method, path) in pages(call_id).items():
        answer = client.open(path, method=method)
        if method == "GET":
            assert answer.status_code == 302 and "/login" in answer.location, name
        else:  # a form without a session has no CSRF token either: refused before anything
            assert answer.status_code in (302, 400), name
    assert "Connexion" in client.get("/login").get_data(as_text=True)


def twilio_serves_recordings() -> None:
    """Twilio's media URL answering any recording's audio (inside `responses.activate`)."""
    responses.add(
        responses.GET,
        re.compile(r"https://api\.twilio\.com/.*/Recordings/RE\w+\.mp3"),
        body=b"ID3audio",
    )


@pytest.mark.parametrize("role", list(ACCOUNTS))
@responses.activate
def test_the_role_matrix(office, role):
    twilio_serves_recordings()
    app, call_id = office
    client, token = logged_in(app, role)
    kind = role.split("_")[0]
    for name, (method, path) in pages(call_id, app.config["TEST_RECORDING_ID"]).items():
        data = {"csrf_token": token, "text": "Bonjour, service d'astreinte."}
        answer = client.open(path, method=method, data=data if method == "POST" else None)
        if name in ADMIN_ONLY and kind != "admin":
            assert answer.status_code == 403, (role, name)
        elif name in ("call", "sheet", "processed", "unprocessed") and role not in SEES_THE_CALL:
            assert answer.status_code in (404, 302), (role, name)  # not theirs: not there
        elif name == "recording":
            expected = 200 if role in SEES_THE_CALL else 404
            assert answer.status_code == expected, (role, name)
            assert role not in SEES_THE_CALL or answer.data == b"ID3audio"
        elif name == "retry":
            assert answer.status_code in (302, 404), (role, name)
        else:
            assert answer.status_code in (200, 302), (role, name, answer.status_code)


@responses.activate
def test_a_message_left_on_the_safe_path_is_alerted_and_heard_on_the_operations_page(office, demo):
    """Left while the app could not work (its call never stored): nobody else has it."""
    twilio_serves_recordings()
    app, _ = office
    sid = "RE" + "7" * 32
    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": "CA" + "7" * 32,  # a call the database never saw
        "RecordingSid": sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{sid}",
        "RecordingDuration": "23",
        "RecordingStatus": "completed",
    }
    url = f"{BASE_URL}/twilio/recording?kind=emergency"
    silent = {**params, "RecordingSid": "RE" + "6" * 32, "RecordingDuration": "0"}
    for posted in (
        silent,
        {**silent, "RecordingSid": "RE" + "5" * 32, "RecordingStatus": "absent"},
        params,
    ):
        answer = app.test_client().post(
            "/twilio/recording?kind=emergency",
            data=posted,
            headers={"X-Twilio-Signature": sign(url, posted, AUTH_TOKEN)},
        )
        assert answer.status_code == 204
    with demo.snapshot() as session:
        [alert] = session.scalars(select(AlertRow)).all()
        recording_id = session.scalars(select(RecordingRow.id).where(RecordingRow.sid == sid)).one()
    assert alert.kind == "emergency_message" and "23 s" in alert.message
    admin, _ = logged_in(app, "admin")
    page = admin.get("/operations").get_data(as_text=True)
    assert "Messages laissés en mode secours" in page and "23 s" in page
    assert f"/recordings/{recording_id}/audio" in page
    assert admin.get(f"/recordings/{recording_id}/audio").data == b"ID3audio"
    for role in ("agency", "manager"):  # no agency's: the operators' only
        client, _ = logged_in(app, role)
        assert client.get(f"/recordings/{recording_id}/audio").status_code == 404


def test_only_a_failed_job_or_a_sheet_sent_can_be_done_again_by_hand(office, demo, clock):
    """A call that went is never placed again from the back office: a technician would be
    woken for nothing, outside the rules."""
    from ivr.adapters.orm import JobRow
    from ivr.services.jobs import JobQueue

    app, call_id = office
    queue, now = JobQueue(demo, clock), clock.now()
    jobs = {
        ("call_line", "done"): "done",
        ("sheet", "done"): "pending",
        ("sms", "failed"): "pending",
    }
    ids = {}
    with demo.session() as session:
        for kind, status in jobs:
            payload = {"to": TECHNICIAN, "numbers": [TECHNICIAN], "index": 0, "role": "technician"}
            queue.schedule(session, kind, f"{kind}:{status}", now, call_id, payload)
            session.flush()
            row = session.scalars(select(JobRow).where(JobRow.key == f"{kind}:{status}")).one()
            row.status, ids[kind, status] = status, row.id
    client, token = logged_in(app, "agency")
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    for (kind, status), after in jobs.items():
        offered = f"/jobs/{ids[kind, status]}/retry" in page
        assert offered is (after == "pending"), kind
        client.post(f"/jobs/{ids[kind, status]}/retry", data={"csrf_token": token})
        with demo.snapshot() as session:
            assert session.get(JobRow, ids[kind, status]).status == after, kind


def test_a_page_number_past_the_list_lists_nothing(office):
    app, _ = office
    client, _ = logged_in(app, "admin")
    for page in ("99999999999999999999999", "-5", "abc"):
        assert client.get(f"/calls?page={page}").status_code == 200, page


def test_an_account_lists_only_its_calls(office):
    app, call_id = office
    for role, sees in (("agency", True), ("agency_other", False), ("manager_est", False)):
        client, _ = logged_in(app, role)
        listing = client.get("/calls").get_data(as_text=True)
        assert (f"/calls/{call_id}" in listing) is sees, role


def test_a_form_without_its_csrf_token_is_refused(office, demo):
    app, _call_id = office
    client, _ = logged_in(app, "admin")
    refused = client.post("/prompts/welcome", data={"text": "Piraté"})
    assert refused.status_code == 400
    with demo.snapshot() as session:
        assert session.scalars(select(PromptVersionRow)).all() == []


def test_the_agencys_morning_marks_a_request_processed_by_whom(office, demo):
    app, call_id = office
    client, token = logged_in(app, "agency")
    morning = client.get("/morning").get_data(as_text=True)
    assert f"/calls/{call_id}/processed" in morning
    client.post(f"/calls/{call_id}/processed", data={"csrf_token": token})
    assert f"/calls/{call_id}/processed" not in client.get("/morning").get_data(as_text=True)
    with demo.snapshot() as session:
        call = session.get(CallRow, call_id)
        assert call.processed_by == "paris@example.fr" and call.processed_at is not None
        assert session.scalars(select(AuditRow.action)).all() == ["call_processed"]


def test_a_prompt_with_an_unknown_placeholder_is_refused_and_said_why(office, demo):
    app, _ = office
    client, token = logged_in(app, "admin")
    page = client.post(
        "/prompts/confirm_identity", data={"csrf_token": token, "text": "Bonjour {prenom}"}
    ).get_data(as_text=True)
    assert "valeur inconnue" in page and "{prenom}" in page
    saved = client.post(
        "/prompts/confirm_identity",
        data={"csrf_token": token, "text": "Contrat de {name} à {city} ? Tapez 1."},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Version 1 enregistrée" in saved
    assert "Contrat de [name] à [city] ? Tapez 1." in saved  # the preview's TwiML


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\ufffe"])
def test_a_prompt_with_a_control_character_is_refused_and_said_why(office, demo, char):
    app, _ = office
    client, token = logged_in(app, "admin")
    page = client.post(
        "/prompts/welcome", data={"csrf_token": token, "text": f"Bonjour{char}, chauffage."}
    ).get_data(as_text=True)
    assert f"caractère de contrôle U+{ord(char):04X}" in page
    with demo.snapshot() as session:
        assert session.scalars(select(PromptVersionRow)).all() == []


def test_an_edited_prompt_goes_back_to_its_default_words(office, demo):
    from ivr.adapters.prompt_store import defaults

    app, _ = office
    client, token = logged_in(app, "admin")
    assert "Revenir au texte par défaut" not in client.get("/prompts/goodbye").get_data(
        as_text=True
    )  # never edited: nothing to go back to
    client.post("/prompts/goodbye", data={"csrf_token": token, "text": "Salut."})
    page = client.get("/prompts/goodbye").get_data(as_text=True)
    assert "Revenir au texte par défaut" in page
    back = client.post(
        "/prompts/goodbye/rollback/0", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Retour au texte par défaut (nouvelle version 2)" in back
    with demo.snapshot() as session:
        newest = session.scalars(
            select(PromptVersionRow).order_by(PromptVersionRow.version.desc())
        ).first()
    assert newest.text == defaults()["goodbye"].text


def test_a_prompt_too_long_to_be_said_is_refused_and_the_typed_text_kept(office, demo, clock):
    app, _ = office
    client, token = logged_in(app, "admin")
    typed = "Bonjour, vous êtes bien au service d'astreinte. " * 40  # 1,960 characters
    page = client.post("/prompts/welcome", data={"csrf_token": token, "text": typed})
    said = page.get_data(as_text=True)
    assert "texte trop long" in said and "1000 au plus" in said
    assert typed.strip() in html.unescape(said)  # in the form, to shorten
    with demo.snapshot() as session:
        assert session.scalars(select(PromptVersionRow)).all() == []
    with demo.session() as session:  # a version saved before the limit
        session.add(
            PromptVersionRow(
                name="welcome", version=1, text=typed, created_at=clock.now(), created_by="x"
            )
        )
    client.post("/prompts/welcome", data={"csrf_token": token, "text": "Bonjour."})
    back = client.post(
        "/prompts/welcome/rollback/1", data={"csrf_token": token}, follow_redirects=True
    )
    assert back.status_code == 200 and "Non rétabli : texte trop long" in back.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/calls?page=2", "/calls?page=2"),
        ("/%09/evil.example", "/"),  # a tab, dropped by browsers: //evil.example
        ("//evil.example", "/"),
        ("/%5Cevil.example", "/"),  # a backslash, read as a slash
        ("https://evil.example/", "/"),
    ],
)
def test_after_login_the_visitor_goes_back_on_this_site_only(office, target, lands):
    app, _ = office
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": ACCOUNTS["admin"][0], "password": PASSWORD, "csrf_token": token}
    answer = client.post(f"/login?next={target}", data=form)
    assert answer.status_code == 302 and answer.headers["Location"] == lands


def test_the_login_is_rate_limited(office):
    app, _ = office
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes = [
        client.post(
            "/login", data={"email": "admin@example.fr", "password": "wrong", "csrf_token": token}
        ).status_code
        for _ in range(12)
    ]
    assert codes[0] == 200 and codes[-1] == 429


def _try_login(app, password: str, email: str = "admin@example.fr") -> int:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": email, "password": password, "csrf_token": token}
    return client.post("/login", data=form).status_code


def test_failed_logins_count_in_every_process_and_make_the_next_try_wait_not_a_lock(
    office, make_app
):
    """Two apps are two gunicorn processes: the failures of one slow the other down; once
    the wait is over, the real administrator gets in."""
    app, _ = office
    other = make_app(WTF_CSRF_ENABLED=True)
    codes = [_try_login(app if n % 2 else other, "wrong") for n in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    assert _try_login(app, PASSWORD) == 429  # even the right password waits: no guessing
    for clock in (app.extensions["ivr.clock"], other.extensions["ivr.clock"]):
        clock.jump_to(clock.now() + timedelta(seconds=3))
    assert _try_login(other, PASSWORD) == 302
    assert _try_login(app, "wrong") == 200  # a success starts the count again


def test_a_session_ends_at_logout_and_its_cookie_is_worth_nothing_after(office):
    app, _ = office
    client, token = logged_in(app, "admin")
    stolen = client.get_cookie("session").value
    assert client.get("/calls").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/calls").status_code == 302  # to the login page


def test_the_front_page_draws_its_charts_as_svg_from_the_app(office):
    app, _ = office
    client, _ = logged_in(app, "admin")
    page = client.get("/").get_data(as_text=True)
    for name in ("nights", "decisions", "reach"):
        assert f'id="chart-{name}"><svg' in page
    assert "Appels par nuit" in page and "technicien appelé" in page
    assert 'src="http' not in page and 'href="http' not in page  # nothing from elsewhere
    other, _ = logged_in(app, "agency_other")  # Metz sees none of Paris's calls
    assert "technicien appelé" not in other.get("/").get_data(as_text=True)


def test_the_reference_page_draws_the_windows_and_flags_the_planning(office):
    app, _ = office
    client, _ = logged_in(app, "admin")
    page = client.get("/reference").get_data(as_text=True)
    assert "0751 Paris Nord" in page and 'class="bar' in page
    assert "Cadres d'astreinte" in page and "Claire Lefèvre" in page
    found = client.get("/reference?q=Bérard").get_data(as_text=True)
    assert "10000001" in found


def test_a_recorded_greeting_is_played_to_the_next_caller(office, settings, tmp_path):
    from ivr.simulator.audio import message_tone

    app, _ = office
    app.extensions["ivr.settings"].MEDIA_FOLDER = tmp_path / "media"
    client, token = logged_in(app, "admin")
    disguised = b"RIFF\x00\x01\x00\x00WAVE<html><script>alert(1)</script></html>"
    for content in (b"not audio at all", disguised, b"ID3" + b"<html>" * 20):
        refused = client.post(
            "/prompts/welcome/audio",
            data={"csrf_token": token, "audio": (io.BytesIO(content), "x.wav")},
            follow_redirects=True,
        )
        assert "ni un fichier WAV ni un MP3" in refused.get_data(as_text=True)
    client.post(
        "/prompts/welcome/audio",
        data={"csrf_token": token, "audio": (io.BytesIO(message_tone(2)), "accueil.wav")},
    )
    call = PhoneCall(FlaskTransport(app), BASE_URL, AUTH_TOKEN, from_="+33622222222")
    call.start()
    played = [r.body for r in call.requests if "<Play>" in r.body]
    assert played and f"{BASE_URL}/media/prompts/welcome-v1.wav" in played[0]
    media = app.test_client().get("/media/prompts/welcome-v1.wav")  # as Twilio: no login
    assert media.status_code == 200 and media.data[:4] == b"RIFF"
    assert media.headers["X-Content-Type-Options"] == "nosniff"
    for wrong in ("..%2F..%2Fsecret", "%00", "welcome-v1.wav%00.html", "welcome-v9.wav"):
        assert app.test_client().get(f"/media/prompts/{wrong}").status_code == 404, wrong


def _zipped(files: dict[str, bytes]) -> io.BytesIO:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    packed.seek(0)
    return packed


def test_a_directory_zip_is_unpacked_within_bounds(office):
    app, _ = office
    client, token = logged_in(app, "admin")
    directory = {f"annuaire/{p.name}": p.read_bytes() for p in DEMO.glob("*.csv")}
    del directory["annuaire/clients.csv"]
    uploads = {
        "accepted": (directory, "Import accepté"),
        "a zip bomb": ({**directory, "big.csv": b"0" * (21 * 1024 * 1024)}, "Zip trop gros"),
        "too many files": ({f"f{i}.csv": b"x" for i in range(21)}, "Trop de fichiers"),
    }
    for case, (files, said) in uploads.items():
        form = {"csrf_token": token, "kind": "directory", "file": (_zipped(files), "a.zip")}
        page = client.post("/reference", data=form, follow_redirects=True)
        assert said in page.get_data(as_text=True), case


def test_an_administrator_sets_a_technicians_pin_stored_hashed(office, demo):
    from ivr.adapters.orm import StaffPinRow
    from ivr.services.staff import pin_ok

    app, _ = office
    client, token = logged_in(app, "admin")
    bad = client.post(
        "/reference/pin",
        data={"csrf_token": token, "number": TECHNICIAN, "pin": "12"},
        follow_redirects=True,
    )
    assert "4 to 8 digits" in bad.get_data(as_text=True)
    # Digits to Python, but no keypad sends them: the line would be locked out.
    for unkeyable in ("\u0661\u0662\u0663\u0664", "12\u00b234"):
        refused = client.post(
            "/reference/pin",
            data={"csrf_token": token, "number": TECHNICIAN, "pin": unkeyable},
            follow_redirects=True,
        )
        assert "4 to 8 digits" in refused.get_data(as_text=True)
    with demo.snapshot() as session:
        assert session.get(StaffPinRow, TECHNICIAN) is None
    client.post("/reference/pin", data={"csrf_token": token, "number": TECHNICIAN, "pin": "2468"})
    with demo.snapshot() as session:
        row = session.get(StaffPinRow, TECHNICIAN)
    assert row is not None and "2468" not in row.pin_hash and row.set_by == "admin@example.fr"
    assert pin_ok(demo, [TECHNICIAN], "2468") == TECHNICIAN
