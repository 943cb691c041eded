"""Danger first, at national scale: due jobs are taken by priority, outbound calls are paced to
Twilio's rate across every worker, and a worker keeps several jobs in flight."""

from __future__ import annotations

import threading
from datetime import timedelta

from ivr.clock import Clock
from ivr.domain.local_time import parse_instant
from ivr.services.jobs import Done, JobQueue
from ivr.services.pacing import CallPacing
from ivr.services.worker import Worker

EIGHT = parse_instant("2026-12-19T08:00")


def line(purpose: str, role: str = "technician") -> dict:
    return {"numbers": ["+33639980101"], "index": 0, "role": role, "purpose": purpose}


def test_a_danger_due_after_a_thousand_morning_calls_is_taken_first(db):
    clock = Clock(EIGHT)
    queue = JobQueue(db, clock)
    with db.session() as session:
        for n in range(1000):
            queue.schedule(session, "call_line", f"morning:{n}", EIGHT, None, line("next_morning"))
        queue.schedule(session, "sheet", "sheet:1", EIGHT, None, {"to": "+33199001101"})
        danger = EIGHT + timedelta(seconds=5)
        queue.schedule(session, "call_line", "danger:1", danger, None, line("danger", "manager"))
        queue.schedule(session, "call_line", "waiting:1", danger, None, line("request"))
    clock.jump_to(EIGHT + timedelta(seconds=6))
    taken = [queue.claim() for _ in range(3)]
    assert [job.key for job in taken if job] == ["danger:1", "waiting:1", "morning:0"]


class StillClock(Clock):
    """The program's clock, stopped but for its jumps: what a pacing waits is its naps alone,
    however slow the machine running the test."""

    def __init__(self, at) -> None:
        self._at = at

    def now(self):
        return self._at

    def jump_to(self, instant) -> None:
        self._at = instant


def paced(db, per_second: float) -> tuple[CallPacing, Clock, list[float]]:
    """A pacing whose naps move the program's clock on (and are counted), not the test's."""
    clock = StillClock(EIGHT)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock.jump_to(clock.now() + timedelta(seconds=seconds))

    return CallPacing(db, clock, per_second, sleep=nap), clock, naps


def test_calls_are_placed_at_twilios_rate_and_an_urgent_one_takes_the_next_slot(db):
    pacing, clock, naps = paced(db, per_second=1)
    started = clock.now()
    placed = []
    for _ in range(3):
        pacing.wait_turn()
        placed.append((clock.now() - started).total_seconds())
    assert placed == [0, 1, 2]  # one a second
    assert sum(naps) == 2  # the workers waited for Twilio's rate, not Twilio's queue
    pacing.wait_turn(urgent=True)  # reserved at once: the next slot, never behind a queue
    assert (clock.now() - started).total_seconds() == 3


def test_two_workers_share_the_rate(db):
    first, clock, _ = paced(db, per_second=2)
    second = CallPacing(db, clock, 2, sleep=first.sleep)
    started = clock.now()
    for pacing in (first, second, first, second):
        pacing.wait_turn()
    assert (clock.now() - started).total_seconds() >= 1.4  # four calls at 2 a second


def test_a_worker_keeps_several_jobs_in_flight(db):
    clock = Clock(EIGHT)
    queue = JobQueue(db, clock)
    with db.session() as session:
        for n in range(3):
            queue.schedule(session, "slow", f"slow:{n}", EIGHT)
    together = threading.Barrier(3, timeout=10)  # passes only if three run at once
    stop = threading.Event()
    done = []

    def slow(job):
        together.wait()
        done.append(job.key)
        if len(done) == 3:
            stop.set()
        return Done()

    Worker(queue, {"slow": slow}).run(stop, poll=0.05, threads=3)
    assert sorted(done) == ["slow:0", "slow:1", "slow:2"]


def test_what_a_manager_must_hear_goes_before_anything_else():
    from ivr.domain.followup import CALLER_WAITING, DANGER, NEXT_MORNING, PAPERWORK, priority

    unreachable_text = {"to": "+33639980201", "role": "unreachable"}
    assert priority("call_line", line("danger", "manager")) == DANGER
    assert priority("sms", unreachable_text) == DANGER
    assert priority("call_line", line("request")) == CALLER_WAITING
    assert priority("call_line", line("next_morning")) == NEXT_MORNING
    assert priority("sheet", {"to": "+33199001101"}) == PAPERWORK
