"""What came of a request, as the technician or the manager who took it reports it (§6)."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.domain.labelled import Labelled


class RequestOutcome(Labelled):
    """Its label is what the agency's follow-up sheet and the back office say."""

    ACKNOWLEDGED = "acknowledged", "pris en charge"  # they see to it (call the client back)
    SOLVED = "solved", "résolu à distance"
    NOT_OURS = "not_ours", "hors de notre ressort (réseau gaz ou électricité)"
    SLOT = "slot", "rendez-vous convenu"
    ON_MY_WAY = "on_my_way", "technicien en route"

    @property
    def final(self) -> bool:
        """An outcome the agency is sent a follow-up sheet for (not merely taken in hand)."""
        return self is not RequestOutcome.ACKNOWLEDGED


@dataclass(frozen=True)
class Report:
    """What the person who took a request in hand said came of it."""

    outcome: RequestOutcome
    by: str  # their number
    slot: str | None = None  # the time slot agreed, as they keyed it ("le 24 à 14 h")
