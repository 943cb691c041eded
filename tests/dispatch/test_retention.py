"""Callers' recordings are kept six months at most (RECORDING_RETENTION_DAYS), then deleted
at Twilio and here, the deletion on the call's trace; by a job of the worker, planned once a day
on the program's clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.adapters.orm import AlertRow, CallEventRow, JobRow, RecordingRow
from tests.dispatch.test_dispatcher import unanswered_call


def recordings(db) -> list[tuple[str, str, str]]:
    with db.snapshot() as session:
        rows = session.scalars(select(RecordingRow).order_by(RecordingRow.id)).all()
        return [(r.sid, r.status, r.url) for r in rows]


def deletions(db) -> list[dict]:
    with db.snapshot() as session:
        kind = CallEventRow.kind == "recording_deleted"
        return [e.detail for e in session.scalars(select(CallEventRow).where(kind))]


def test_a_message_is_deleted_at_twilio_and_here_once_its_six_months_are_over(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)  # a 20 s message
    n.later(days=10)
    unanswered_call(n)  # another, ten days later
    n.run_worker()
    first, second = recordings(demo)
    assert first[1] != "deleted" and first[2]  # kept for now
    n.later(days=174)  # the first is 184 days old, the second 174
    n.run_worker()
    assert fake_twilio.deleted_recordings == [first[0]]
    assert recordings(demo) == [(first[0], "deleted", ""), second]
    assert deletions(demo) == [{"recording": first[0], "kind": "message", "kept_days": 183}]
    n.later(hours=2)
    n.run_worker()  # once a day: nothing more today
    assert fake_twilio.deleted_recordings == [first[0]]
    n.later(days=10)
    n.run_worker()
    assert fake_twilio.deleted_recordings == [first[0], second[0]]


def retention_jobs(db) -> list[tuple[str, str | None]]:
    with db.snapshot() as session:
        jobs = session.scalars(
            select(JobRow).where(JobRow.kind == "delete_recordings").order_by(JobRow.id)
        )
        return [(job.status, job.outcome) for job in jobs]


def test_twilio_down_the_recordings_wait_and_an_alert_says_why(night, demo, fake_twilio):
    n = night(RECORDING_RETENTION_DAYS=30)
    unanswered_call(n)
    n.run_worker()
    n.later(days=31)
    fake_twilio.failures = [503]
    n.run_worker()
    assert recordings(demo)[0][1] != "deleted"
    with demo.snapshot() as session:
        assert "retention_failed" in session.scalars(select(AlertRow.kind)).all()
    assert retention_jobs(demo)[-1][0] == "pending"  # the job's own retry, a little later
    n.later(minutes=1)
    n.run_worker()
    assert recordings(demo)[0][1] == "deleted" and deletions(demo)[0]["kept_days"] == 30
    assert retention_jobs(demo)[-1] == ("done", "1 deleted")


def test_a_long_backlog_is_deleted_a_batch_at_a_time_each_its_own_job(night, demo, fake_twilio):
    n = night(RECORDING_RETENTION_DAYS=30)
    made = n.app.extensions["ivr.clock"].now() - timedelta(days=40)
    with demo.session() as session:  # a year of recordings from before the retention
        session.add_all(
            RecordingRow(
                sid=f"RE{i:032d}", url="u", kind="message", status="completed", received_at=made
            )
            for i in range(250)
        )
    n.run_worker()
    assert len(fake_twilio.deleted_recordings) == 250
    assert {status for _, status, _ in recordings(demo)} == {"deleted"}
    assert retention_jobs(demo) == [
        ("done", "100 deleted"),
        ("done", "100 deleted"),
        ("done", "50 deleted"),
    ]
