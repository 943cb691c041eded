"""The summary sheet's words for what the trace stores as codes: its decisions and the
outcomes of the calls placed, worded for an agency reading a fax (the back office's shorter
words are ivr.domain.trace_words)."""

ACTIONS = {
    "call_now": "Appel immédiat du technicien d'astreinte",
    "call_next_morning": "Appel du technicien le lendemain matin",
    "fax_only": "Fiche seule (hors astreinte)",
    "escalate": "Danger : appel du responsable d'astreinte",
    "not_covered": "Non couvert : message pour l'agence",
    "legacy": "Transféré à l'astreinte habituelle de l'agence",
}
CALL_RESULTS = {  # what came of a call placed and not taken, as the sheet words it
    "no-answer": "pas de réponse",
    "busy": "occupé",
    "voicemail": "messagerie",  # the dispatcher's call: Twilio's answering machine detection
    "silent": "messagerie ou sans réponse",  # the announcement heard no key, then silence
    "declined": "décroché, non pris",
    "not_taken": "décroché, non pris",
    "completed": "décroché, non pris",  # a screened call is taken only by its key
    "failed": "échec de l'appel",
    "canceled": "annulé",
    "cancelled": "annulé",
    "waiting": "en cours",
    "not_needed": "pas appelé : demande déjà prise",
    "caller_gone": "l'appelant a raccroché avant",  # while it rang, or during the announcement
}
UNKNOWN = "non renseigné"
