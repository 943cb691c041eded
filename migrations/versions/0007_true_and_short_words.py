"""what callers and staff are told: true, complete and short (no schema change)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from alembic import op

from ivr.adapters.migrations import alert, replace_saved_prompts, saved_prompts

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


# Words that were untrue (« Il est prévenu » when nobody was reached), that lacked what a
# technician needs (the street, the equipment), or whose values changed (the delay, the time
# of the morning call): a version an administrator saved is replaced by the new words, as a
# new version (the old stays in the history), and an alert says so.
NEW_WORDS = {
    'technician_unreached': "Le technicien d'astreinte n'a pas répondu. Nous continuons à l'appeler, et votre agence recevra votre demande.",
    'manager_unreached': "Le responsable d'astreinte n'a pas encore répondu. Nous continuons à l'appeler. En cas de danger immédiat, appelez le 112.",
    'outbound_no_callback': "Le numéro du client n'est pas connu : nous ne pouvons pas vous mettre en relation.",
    'delay': '{contract} prévoit {delay}.',
    'next_morning': "Nous appellerons le technicien d'astreinte {when}. Il vous rappellera ensuite pour convenir de son passage.",
    'safety_gas': "N'allumez rien et ne touchez à aucun interrupteur. Si vous le pouvez, ouvrez les fenêtres et fermez le robinet de gaz, puis sortez. Une fois dehors, appelez Urgence Sécurité Gaz au {gas_number}. Je répète : {gas_number}.",
    'safety_co': "Sortez, puis appelez le 15, le 18 ou le 112. Ne revenez pas avant l'avis des secours.",
    'safety_fire': 'Sortez immédiatement, puis appelez les pompiers : le 18 ou le 112.',
    'safety_other': 'Mettez-vous en sécurité. En cas de danger immédiat, appelez le 112.',
    'whisper_technician': "Appel d'astreinte. {place} : {fault}, {equipment}. Client : {name}, à rappeler au {phone}. Délai : {delay}. Référence {reference}. Pour prendre l'appel, tapez 1. Pour réécouter, tapez étoile.",
    'whisper_manager': "Alerte danger : {danger}. {place}. Client : {name}, à rappeler au {phone}. Équipement : {equipment}. Référence {reference}. Pour prendre l'appel, tapez 1. Pour réécouter, tapez étoile.",
    'summary_technician': "Bonjour, ici le service d'astreinte. Demande d'intervention. {place} : {fault}, {equipment}. Client : {name}, à rappeler au {phone}. Délai : {delay}. Référence {reference}.",
    'summary_manager': "Bonjour, ici le service d'astreinte. Alerte danger : {danger}. {place}. Client : {name}, à rappeler au {phone}. Équipement : {equipment}. Référence {reference}.",
    'sms_technician': 'Astreinte réf. {reference}. {place} : {fault}, {equipment}. Client {name}, à rappeler au {phone}. Délai : {delay}.',
    'sms_manager': 'ALERTE DANGER ({danger}) réf. {reference} : {place}. Client {name}, à rappeler au {phone}. Équipement : {equipment}.',
}
# Shorter words, the keys unchanged: a saved version stays in force; an alert asks to compare.
SHORTER = ['welcome', 'danger_option', 'ask_client_id', 'propose_client', 'confirm_identity', 'ask_callback', 'ask_fault', 'ask_description', 'calling_technician', 'calling_manager', 'fax_only']
# Prompts no longer said: the address, equipment and number are read back in one question
# (confirm_details), the danger is checked in plain words per danger (confirm_danger_*).
GONE = ['confirm_callback', 'confirm_equipment', 'confirm_danger']


def upgrade() -> None:
    connection = op.get_bind()
    replaced = replace_saved_prompts(connection, NEW_WORDS, "migration 0007 (true, short words)")
    if replaced:
        alert(
            connection,
            "prompts_reset",
            f"The saved words of {', '.join(replaced)} said what was not true or lacked what "
            "a technician needs: they were replaced by the new default words; check them in "
            "the back office (Messages).",
        )
    kept = sorted(saved_prompts(connection, SHORTER))
    gone = sorted(saved_prompts(connection, GONE))
    if kept or gone:
        alert(
            connection,
            "prompts_review",
            "Calls were made shorter: the default words of many prompts changed. "
            + (f"Your saved words stay in force for {', '.join(kept)}: compare them with the "
               "new defaults. " if kept else "")
            + (f"No longer said: {', '.join(gone)} (now confirm_details and "
               "confirm_danger_gas, _fire, _carbon_monoxide, _other)." if gone else ""),
        )


def downgrade() -> None:
    pass  # words only: the versions replaced stay in the history
