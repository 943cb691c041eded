"""What came of a request, as the technician or the manager who took it reports it (§6)."""

from __future__ import annotations

from enum import StrEnum


class RequestOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # taken in hand: they see to it (call the client back)
    SOLVED = "solved"
    NOT_OURS = "not_ours"
    SLOT = "slot"
    ON_MY_WAY = "on_my_way"

    @property
    def label(self) -> str:
        """French, as the agency's follow-up sheet and the back office say it."""
        return _LABELS[self]

    @property
    def final(self) -> bool:
        """An outcome the agency is sent a follow-up sheet for (not merely taken in hand)."""
        return self is not RequestOutcome.ACKNOWLEDGED


_LABELS = {
    RequestOutcome.ACKNOWLEDGED: "pris en charge",
    RequestOutcome.SOLVED: "résolu à distance",
    RequestOutcome.NOT_OURS: "hors de notre ressort (réseau gaz ou électricité)",
    RequestOutcome.SLOT: "rendez-vous convenu",
    RequestOutcome.ON_MY_WAY: "technicien en route",
}
