"""`ivr simulate`: one scripted call through the demo stack, and what the dispatcher did."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta

from ivr.domain import wording
from ivr.services.worker import Worker
from ivr.simulator.demo import DemoStack, Refused, Simulator

MAX_ROUNDS = 40  # dispatcher rounds followed, at most (a chain, its retries, the sheets)


def run_script(
    stack: DemoStack,
    caller: str,
    steps: tuple[str, ...],
    behaviours: Mapping[str, str],
    follow: bool,
) -> Iterator[str]:
    """One call through the demo `stack`, step by step, then the dispatcher's work."""
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    simulator = stack.simulator
    simulator.default_behaviour = "take"  # nobody at a page: a phone not told answers
    simulator.behaviours.update(behaviours)
    number = simulator.place(caller, None)
    refused = None
    for step in steps:
        if simulator.calls[number].ended:
            break
        action, value = _action(step)
        try:
            simulator.act(number, action, value)
        except Refused as error:  # a step the call cannot take there: the script stops
            refused = f"step {step!r} not taken: {error}"
            break
    if not simulator.calls[number].ended:  # the script ended before the call: hang up
        simulator.act(number, "hangup")
    yield from simulator.calls[number].transcript
    if refused:
        yield refused
    yield ""
    yield "--- the dispatcher ---"
    yield from _dispatch(simulator, stack.worker, follow)


def _action(step: str) -> tuple[str, str]:
    if step.startswith("say:"):
        return "say", step[4:]
    if step.startswith("message:"):
        return "message", step[8:]
    if step in ("silence", "hangup"):
        return step, ""
    return "press", step


def _dispatch(simulator: Simulator, worker: Worker, follow: bool) -> Iterator[str]:
    for _ in range(MAX_ROUNDS):
        worker.run_due()
        ringing = simulator.ringing()
        if ringing:
            for placed in ringing:
                how = simulator.respond(placed["Sid"])
                yield f"{_now(simulator)} calls {placed['To']} ({how}):"
                yield from ("    " + line for line in simulator.outbound[placed["Sid"]].transcript)
            continue
        if not follow or not _next_job_soon(simulator):
            break
        yield f"... the clock moves on to {_now(simulator)}"
    for message in simulator.rest.messages:
        yield f"text message to {message.get('To')}: {message.get('Body')}"
    for sheet in simulator.state()["sheets"]:
        yield f"summary sheet: {simulator.settings.FAX_FOLDER}/{sheet['name']}.pdf"
    for job in simulator.state()["jobs"]:
        if job["status"] not in ("done",):
            yield f"job {job['kind']} to {job['to']}: {job['status']} (due {job['due']})"


def _next_job_soon(simulator: Simulator) -> bool:
    """Jump to the next job if it falls within a day (a next-morning call)."""
    before = simulator.clock.now()
    if not simulator.to_next_job():
        return False
    if simulator.clock.now() - before > timedelta(days=1):
        simulator.clock.jump_to(before)
        return False
    return True


def _now(simulator: Simulator) -> str:
    return wording.clock(simulator.clock.now())
