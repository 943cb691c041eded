"""The demo's phone simulator (IVR_SIMULATOR): the page's API driving a whole night through
the app served on loopback, its fake Twilio REST API answering the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ivr.composition import serve_demo
from ivr.domain.local_time import parse_instant
from ivr.services.worker import Worker
from tests.calls.conftest import BACKUP, TECHNICIAN
from tests.conftest import AUTH_TOKEN


@contextmanager
def demo_served(settings, at: str) -> Iterator[tuple[object, Worker]]:
    """The demo app on a free loopback port and a worker on its clock, as `make run` runs
    them (`serve_demo`)."""
    with serve_demo(
        settings.model_copy(update={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}), parse_instant(at)
    ) as stack:
        yield stack.app, stack.worker


@pytest.fixture
def demo_app(settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as served:
        yield served


def test_the_page_is_served_only_with_the_simulator(make_app, demo_app):
    app, _ = demo_app
    page = app.test_client().get("/simulator")
    assert page.status_code == 200 and "Simulateur téléphonique" in page.get_data(as_text=True)
    assert make_app().test_client().get("/simulator").status_code == 404


def test_a_night_from_the_page_the_technician_answers_the_dispatchers_call(demo_app, tmp_path):
    app, worker = demo_app
    client = app.test_client()
    for number in (TECHNICIAN, BACKUP):  # nobody takes it while the caller waits
        client.post("/simulator/api/behaviour", json={"number": number, "behaviour": "ring"})
    call = client.post("/simulator/api/calls", json={"from": "+33611111111"}).get_json()["id"]
    for keys in ("10000002#", "1", "1", "1", "#"):
        assert (
            client.post(f"/simulator/api/calls/{call}/press", json={"value": keys}).status_code
            == 200
        )
    client.post(f"/simulator/api/calls/{call}/message", json={"value": "20"})
    state = client.get("/simulator/api/state").get_json()
    assert state["calls"][0]["ended"] and "mardi 22 décembre 2026" in state["clock"]

    worker.run_due()  # the dispatcher calls the technician through the fake Twilio
    state = client.get("/simulator/api/state").get_json()
    [ringing] = state["ringing"]
    assert ringing["to"] == TECHNICIAN
    assert state["messages"][0]["to"] == TECHNICIAN

    sid = ringing["sid"]
    assert client.post(f"/simulator/api/outbound/{sid}/answer").status_code == 200
    [phone] = client.get("/simulator/api/state").get_json()["outbound"]
    assert phone["waiting"] and any("06 11 11 11 11" in line for line in phone["transcript"])
    assert (
        client.post(f"/simulator/api/outbound/{sid}/press", json={"value": "2"}).status_code == 200
    )
    worker.run_due()  # the sheet
    state = client.get("/simulator/api/state").get_json()
    [sheet] = state["sheets"]
    pdf = client.get(f"/simulator/sheets/{sheet['name']}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/simulator/sheets/..%2Fsecret.pdf").status_code == 404


def test_the_clock_moves_to_the_next_job(settings, demo):
    with demo_served(settings, "2026-12-18T19:30") as (app, worker):  # a Friday evening
        client = app.test_client()
        call = client.post("/simulator/api/calls", json={"from": "+33611111111"}).get_json()["id"]
        for keys in ("10000001#", "1", "1", "1", "1", "#"):
            client.post(f"/simulator/api/calls/{call}/press", json={"value": keys})
        client.post(f"/simulator/api/calls/{call}/hangup")
        worker.run_due()
        assert client.get("/simulator/api/state").get_json()["ringing"] == []
        assert client.post("/simulator/api/clock", json={"next_job": True}).status_code == 200
        assert (
            "samedi 19 décembre 2026, 08:00"
            in client.get("/simulator/api/state").get_json()["clock"]
        )
        worker.run_due()
        state = client.get("/simulator/api/state").get_json()
        assert [r["to"] for r in state["ringing"]] == [TECHNICIAN]


def test_bad_input_gets_a_clear_answer(demo_app):
    app, _ = demo_app
    client = app.test_client()
    assert client.post("/simulator/api/calls", json={"from": ""}).status_code == 400
    answer = client.post("/simulator/api/calls", json={"from": "+33611111111", "at": "demain"})
    assert answer.status_code == 400 and "illisible" in answer.get_json()["error"]
    assert client.post("/simulator/api/calls/999/press", json={"value": "1"}).status_code == 404
    call = client.post("/simulator/api/calls", json={"from": "+33611111111"}).get_json()["id"]
    stray = client.post(f"/simulator/api/calls/{call}/press", json={"value": "x"})
    assert stray.status_code == 400
    assert client.post("/simulator/api/outbound/CAnope/answer").status_code == 400


def test_ivr_simulate_prints_the_call_and_what_the_dispatcher_did(database_url, demo, tmp_path):
    from click.testing import CliRunner

    from ivr.cli import main

    env = {"DATABASE_URL": database_url, "FAX_FOLDER": str(tmp_path / "faxes")}
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--at",
            "2026-12-22T23:00",
            "--callee",
            f"{TECHNICIAN}=ring",
            "--callee",
            f"{BACKUP}=voicemail",
            "10000002#",
            "1",
            "1",
            "1",
            "say:Plus de chauffage dans tout l'immeuble",
            "message:20",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert 'CALLER says "Plus de chauffage' in out and "CALLER leaves a 20 s message" in out
    assert f"calls {TECHNICIAN} (ring)" in out and f"calls {BACKUP} (voicemail)" in out
    assert "VOICEMAIL answers" in out and f"text message to {TECHNICIAN}" in out
    assert "summary sheet:" in out  # two rounds without a person: the sheet, "not reached"
    bad = CliRunner().invoke(main, ["simulate", "--callee", "x=dance"], env=env)
    assert bad.exit_code == 2 and "take|ring|voicemail|busy" in bad.output
