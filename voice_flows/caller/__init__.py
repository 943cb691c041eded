"""The caller's call (docs/procedure.md §5.1, §5.2), as named steps on the engine
(`voice_flows.engine`): identification, the request, danger, and the end of the call.

Two keys work at every menu: danger (9, or danger words when speech is on) and, when a call
centre is configured, the operator (0). A silence or a stray key is answered, shorter, and
after the third miss the caller is offered a way forward, never dropped; so is a caller asked
the same question a sixth time (going round in circles). A message is never left without a
decision: every request is followed up.
"""

from __future__ import annotations

from voice_flows.caller import again, danger, ending, identification, request
from voice_flows.caller.common import CallerFacts, CallerState
from voice_flows.engine import Flow

MAX_VISITS = 5  # a question asked this often in one call: the caller is offered a way forward

flow: Flow[CallerState, CallerFacts] = Flow(
    "caller",
    CallerState,
    (*identification.STEPS, *again.STEPS, *request.STEPS, *danger.STEPS, *ending.STEPS),
    give_up=ending.way_forward,
    intercept=danger.heard_everywhere,
    max_visits=MAX_VISITS,
)

__all__ = ["CallerFacts", "CallerState", "flow"]
