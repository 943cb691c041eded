"""Where a caller's request stands, said to the client who calls again or texted to them
(docs/call-flow.md, "A caller who calls again"): pure, from the facts its trace holds.

One sentence says when they called, one what became of it; each is a prompt (its words
editable), so the voice and the text say the same true thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.domain.local_time import in_paris
from ivr.domain.oncall import agency_opening
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.routing import Action
from ivr.domain.spoken import hour_said, opening_said, when_said

Said = tuple[str, dict[str, str]]  # a prompt's name, and its values


@dataclass(frozen=True)
class Progress:
    """A request in progress, as its trace tells it."""

    request_id: int
    called_at: datetime
    action: str  # the rules' decision for it (`Action`)
    client_id: str | None = None
    fault: str | None = None
    callback: str | None = None
    taken_at: datetime | None = None  # when someone first took it in hand
    outcome: RequestOutcome | None = None  # the last one reported
    slot: str | None = None  # the time slot agreed, when `outcome` is SLOT
    call_at: datetime | None = None  # the technician's call planned (next morning)
    still_trying: bool = False  # the dispatcher has a call to a line still to place
    department: str | None = None  # its agency's (the holidays it keeps); None: no agency

    @property
    def taken(self) -> bool:
        return self.taken_at is not None


def lines_called(action: str | None) -> bool:
    """Whether a call's decision had the technician's lines called at once: a request's were
    tried before its client calls again (tried « de nouveau »); a call again's tried them."""
    return action == Action.CALL_NOW.value


# Why the calls and texts still planned for a request were cancelled by a call again (a job's
# outcome, 30 characters at most): the back office says it in French.
TAKEN_ON_CALL_AGAIN = "taken on a call again"
SOLVED_BY_CLIENT = "solved, said the client"

CLOSED_BY_CLIENT = "closed_by_caller"  # the event of a request its client said is solved

# Outcomes after which a request is over for its client: nothing is coming.
CLOSING = (RequestOutcome.SOLVED, RequestOutcome.NOT_OURS)


def progress_said(progress: Progress, now: datetime) -> tuple[Said, Said]:
    """When the client called, then what became of it: « Vous nous avez appelés à 23 heures
    10. Le technicien a pris votre demande en charge à 23 heures 25 et vous a indiqué être en
    route. »"""
    called = {"when": _called(progress.called_at, now)}
    return ("progress_called", called), where_it_stands(progress, now)


def where_it_stands(progress: Progress, now: datetime) -> Said:
    """What became of the request, in one sentence (also the text to the client)."""
    if progress.taken_at is not None:
        at = {"time": _time(progress.taken_at)}
        if progress.outcome is RequestOutcome.ON_MY_WAY:
            return "progress_on_my_way", at
        if progress.outcome is RequestOutcome.SLOT and progress.slot:
            return "progress_slot", {**at, "slot": progress.slot}
        return "progress_taken", at
    if progress.action == Action.CALL_NOW.value:
        return ("progress_trying", {}) if progress.still_trying else ("progress_unreached", {})
    if progress.action == Action.CALL_NEXT_MORNING.value and progress.call_at is not None:
        if progress.call_at > now:
            return "progress_next_morning", {"when": when_said(progress.call_at, now)}
        return ("progress_trying", {}) if progress.still_trying else ("progress_unreached", {})
    if progress.department is None:  # no agency of ours: the message waits in the back office
        return "progress_offices", {}
    opens = agency_opening(now, progress.department)
    return "progress_agency", {"opening": opening_said(opens, now)}


def _called(at: datetime, now: datetime) -> str:
    """« à 23 heures 10 », or « hier, à 23 heures 10 » (a request is in progress a day)."""
    hour = f"à {_time(at)}"
    return hour if in_paris(at).date() >= in_paris(now).date() else f"hier, {hour}"


def _time(at: datetime) -> str:
    local = in_paris(at)
    return hour_said(local.hour, local.minute)
