"""Logs carry the call or job they are about and no phone number: JSON lines in production."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ivr.adapters.logs import mask


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("call to +33639980101 failed", "call to +33******01 failed"),
        ("rappel au 06 11 11 11 11.", "rappel au 0******11."),
        ("from 0611111111", "from 0******11"),
        (
            "client 10000002, job 12, CA0123456789abcdef",
            "client 10000002, job 12, CA0123456789abcdef",
        ),
    ],
)
def test_phone_numbers_are_masked_and_nothing_else(line, masked):
    assert mask(line) == masked


def _logged(json_lines: bool, logging_: str) -> list[str]:
    """The lines a fresh process logs (its stderr) once `configure` ran, its clock at
    23:00 Paris time, then `logging_` (statements with `logging` and `bound` at hand)."""
    script = (
        "import logging\n"
        "from ivr.adapters.logs import configure, bound\n"
        "from ivr.clock import Clock\n"
        "from ivr.domain.local_time import parse_instant\n"
        f"configure({json_lines}, Clock(parse_instant('2026-12-22T23:00')))\n" + logging_
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return done.stderr.splitlines()


def test_a_json_line_carries_the_call_and_the_job_and_no_number():
    [line] = _logged(
        True,
        "with bound(call_sid='CA1', job=7):\n"
        "    logging.getLogger('ivr.services.dispatch').warning('calling %s', '+33639980101')\n",
    )
    event = json.loads(line)
    assert event["call_sid"] == "CA1" and event["job"] == 7
    assert event["event"] == "calling +33******01" and event["level"] == "warning"
    assert "+33639980101" not in line
    assert event["timestamp"].startswith("2026-12-22T22:00")  # the program's clock, in UTC
    assert isinstance(event["process"], int)  # which of a server's processes


def test_a_second_configure_replaces_its_own_handler_and_never_anothers():
    """`ivr serve`'s gunicorn master configures, then each worker process with its own app's
    clock and settings; a test runner's handler is left alone."""
    lines = _logged(
        False,  # text, its clock on the 22nd
        "configure(True, Clock(parse_instant('2026-12-24T23:00')))\n"
        "logging.getLogger('ivr').warning('replaced')\n"
        "logging.getLogger().handlers.insert(0, logging.NullHandler())\n"
        "configure(False, Clock())\n"
        "logging.getLogger('ivr').warning('left alone')\n",
    )
    events = [json.loads(line) for line in lines]  # JSON, one line each: one handler
    assert [event["event"] for event in events] == ["replaced", "left alone"]
    assert all(event["timestamp"].startswith("2026-12-24T22:00") for event in events)


def test_libraries_chatter_is_left_out_and_their_warnings_kept():
    lines = _logged(
        False,
        "logging.getLogger('alembic.runtime.plugins').info('setup plugin x')\n"
        "logging.getLogger('alembic.runtime.migration').info('Context impl SQLiteImpl.')\n"
        "logging.getLogger('werkzeug').info('GET /simulator 200')\n"
        "logging.getLogger('ivr.services.worker').info('worker started')\n"
        "logging.getLogger('alembic.runtime.migration').warning('schema drift')\n"
        "logging.getLogger('werkzeug').warning('port taken')\n",
    )
    assert len(lines) == 3, lines
    assert "worker started" in lines[0]
    assert "schema drift" in lines[1] and "port taken" in lines[2]
