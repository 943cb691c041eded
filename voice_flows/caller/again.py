"""A client who calls again while a request of theirs is in progress (docs/call-flow.md, "A
caller who calls again"): where it stands, in one or two sentences from its trace; then add a
message to it (its lines tried again at once if nobody took it yet), say the problem is
solved, or make another request. Danger (9, or its words) leads to the danger path, as at
every menu. A call that adds to a request is no request of its own: nobody who took it is
woken again, and the agency gets a short addition to its sheet, not a second one."""

from __future__ import annotations

from datetime import datetime

from ivr.domain.progress import Progress, lines_called, progress_said
from ivr.domain.routing import Action, added_to
from voice_flows import keys
from voice_flows.caller.common import CallerFacts, CallerState, CallerStep
from voice_flows.engine import Entered, Event, Go, Move, Note, choice, stray
from voice_flows.instructions import Ask, Say


def offer(state: CallerState, progress: Progress | None, now: datetime) -> Go | None:
    """Where the request stands, when there is one the caller was not told of yet; then the
    choices (asked again alone after a stray key: the caller heard where it stands)."""
    if progress is None or state.offered is not None:
        return None
    state.offered = progress.request_id
    if state.client_id is None:  # their number brought it up: its client, for this request
        state.client_id, state.adopted = progress.client_id, progress.client_id is not None
    said = tuple(Say(name, values) for name, values in progress_said(progress, now))
    noted = Note("request_in_progress", {"request": progress.request_id})
    return Go("in_progress", said, (noted,))


def _in_progress(state: CallerState, facts: CallerFacts) -> Entered:
    return (Ask("in_progress", (Say("again_menu"),)),)


def _chosen(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    picked = choice(
        event, {keys.ADD_TO_REQUEST: "add", keys.REQUEST_SOLVED: "solved", keys.NEW_REQUEST: "new"}
    )
    if picked is None:
        return stray()
    if picked == "new":
        noted = Note("new_request", {"besides": state.offered})
        return _whose(state, "confirm_details", (noted,))
    progress = _offered(state, facts)
    if progress is None:
        return _closed_meanwhile(state)
    if picked == "solved":
        return _added(state, progress, "solved", Go("goodbye", (Say("again_closed"),)))
    return _add(state, facts, progress)


def _add(state: CallerState, facts: CallerFacts, progress: Progress) -> Go:
    """A message for the request; nobody took it yet and the rules, now, have the technician
    called at once: the lines are tried now (each try counts toward §5.2, as any call's).
    That is a request whose lines nobody took, or one the agency was to see to at its opening
    (or the technician the next morning) whose client calls again once the on-call window
    has opened: their heating is still down and a technician is on call."""
    if not progress.taken:
        decision = facts.decide(state.client(facts), False, None)
        if decision.action is Action.CALL_NOW and decision.call_numbers:
            said = Say("again_trying" if lines_called(progress.action) else "calling_technician")
            then = state.decided(decision, Go("dial", (said,)))
            return _added(state, progress, "add", then, decided=False)
    return _added(state, progress, "add", Go("leave_message", (Say("again_message"),)))


def _given_up(state: CallerState, facts: CallerFacts) -> Go:
    """A caller who chooses nothing: kept on their request, which is the safer way (its
    lines tried again if nobody took it)."""
    progress = _offered(state, facts)
    return _add(state, facts, progress) if progress else _closed_meanwhile(state)


def _offered(state: CallerState, facts: CallerFacts) -> Progress | None:
    """The request the caller was told of, while it is still in progress."""
    return facts.progress(state.offered) if state.offered else None


def _closed_meanwhile(state: CallerState) -> Go:
    """The request was closed while the caller chose: on as any caller."""
    return _whose(state, "identified")


def _whose(state: CallerState, known: str, notes: tuple[Note, ...] = ()) -> Go:
    """Whose a new request is: the client they confirmed on this call (on to `known`); else
    the client of the request their number brought up, proposed, for them to confirm (§5.1.1:
    a number may propose a client, never skip confirmation; the two residences of one manager
    share a number); else asked for."""
    if state.adopted:
        state.proposed, state.client_id, state.adopted = state.client_id, None, False
        return Go("propose_client", notes=notes)
    return Go(known if state.client_id else "identify", notes=notes)


def _added(
    state: CallerState, progress: Progress, how: str, then: Go, *, decided: bool = True
) -> Go:
    """This call adds to the request (`how`: a message, or solved): what it knows of it is
    the request's, so that the announcement and the sheet say the same."""
    state.request_id = progress.request_id
    state.fault = state.fault or progress.fault
    state.callback = state.callback or progress.callback
    noted = Note("called_again", {"request": progress.request_id, "choice": how})
    if decided:
        then = state.decided(added_to(progress.request_id), then)
    return Go(then.step, then.says, (noted, *then.notes))


STEPS: tuple[CallerStep, ...] = (
    CallerStep("in_progress", _in_progress, _chosen, give_up=_given_up),
)
