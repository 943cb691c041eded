"""What every call the simulator plays one side of has: its leg's TwiML followed through the
webhooks, and everything heard and done kept as a transcript (`PhoneCall`, `OutboundCall`)."""

from __future__ import annotations

from collections.abc import Callable

from ivr.simulator.dialer import Callee, party_leg
from ivr.simulator.twiml import Line, WebhookRequest

KEYS = frozenset("0123456789*#")


class CallStateError(RuntimeError):
    """The caller did something the call cannot take now (keys at a `<Record>`, after its end)."""


class PlayedCall:
    """A call the simulator plays one side of: its leg's TwiML followed through the webhooks,
    everything heard and done kept as a transcript."""

    def __init__(
        self,
        line: Line,
        params: dict[str, str],
        callee_for: Callable[[str], Callee],
        whisper_hangup_status: str,
    ) -> None:
        self._webhooks = line.webhooks
        self._clock = line.clock
        self._transcript = line.transcript
        self._params = params
        self._leg = party_leg(line, params, callee_for, whisper_hangup_status)

    @property
    def transcript(self) -> list[str]:
        """Everything heard and done so far, one line per event (a copy)."""
        return list(self._transcript)

    @property
    def said_since_last_input(self) -> str:
        """All the words spoken to this side since its last input, joined by spaces."""
        return " ".join(self._leg.spoken)

    @property
    def requests(self) -> list[WebhookRequest]:
        """Every request made to the webhooks so far, callbacks included (a copy)."""
        return list(self._webhooks.log)
