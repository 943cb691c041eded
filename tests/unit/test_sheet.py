"""The summary sheet: one A4 page, in French, in Paris time, whatever the data."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from ivr.adapters import sheet as pdf_sheet
from ivr.adapters.sheet import SheetAttempt, SheetData, render_sheet

# Christmas Eve, 22:05 UTC: 23:05 in Paris (winter time).
RECEIVED = datetime(2026, 12, 24, 22, 5, tzinfo=UTC)


def _sheet(**changes: object) -> SheetData:
    """A covered client whose technician did not answer; `changes` override any field."""
    data = SheetData(
        reference="CA0123456789abcdef / 42",
        received_at=RECEIVED,
        client_id="C004211",
        client_name="Mme Hélène Lefèvre",
        address="12 rue des Écoles",
        postcode="69003",
        city="Lyon",
        phones=("+33639980101", "+33478123456"),
        callback_number="+33639980101",
        equipment="Chaudière gaz murale",
        contract="Sérénité 7/7",
        delay="4 heures",
        fault="Pas de chauffage ni d'eau chaude",
        caller_words="La chaudière s'est arrêtée, l'écran affiche F28.",
        danger=None,
        action="call_now",
        reason="Dans la fenêtre d'astreinte de l'agence",
        reached=None,
        awaited="Technicien joint",
        attempts=(
            SheetAttempt(
                "+33611223344", "technicien", RECEIVED + timedelta(minutes=1), "no-answer", False
            ),
            SheetAttempt(
                "+33611223355",
                "technicien (2e numéro)",
                RECEIVED + timedelta(minutes=2),
                "voicemail",
                False,
            ),
        ),
        next_morning_at=None,
        message_left=True,
        message_seconds=42,
        voicemail_message_left=True,
        agency="Lyon Est (6903)",
    )
    return dataclasses.replace(data, **changes)


def _read(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _one_a4_page(reader: PdfReader) -> None:
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(595, abs=1)
    assert float(box.height) == pytest.approx(842, abs=1)


def test_technician_not_reached_with_voicemail():
    reader, text = _read(render_sheet(_sheet()))
    _one_a4_page(reader)
    assert "Technicien joint : NON" in text
    assert "Mme Hélène Lefèvre" in text and "69003 Lyon" in text
    assert "jeudi 24 décembre 2026 à 23:05" in text  # received, in Paris time
    assert "23:06" in text and "23:07" in text  # the attempts
    assert "06 39 98 01 01" in text and "06 11 22 33 44" in text  # numbers as read aloud
    assert "pas de réponse" in text and "messagerie" in text
    assert "Appel immédiat du technicien d'astreinte" in text
    assert "Dans la fenêtre d'astreinte de l'agence" in text
    assert "message enregistré (42 s)" in text and "message laissé" in text
    assert "DANGER" not in text


def test_technician_reached():
    attempt = SheetAttempt(
        "+33611223344", "technicien", RECEIVED + timedelta(minutes=1), "completed", True
    )
    how = "mis en relation avec l'appelant pendant son appel"
    sheet = _sheet(
        reached=pdf_sheet.SheetReach(
            "Technicien joint", "Technicien d'astreinte", attempt.number, how, attempt.at
        ),
        attempts=(attempt,),
        message_left=False,
        voicemail_message_left=False,
    )
    _, text = _read(render_sheet(sheet))
    assert "Technicien joint : OUI" in text
    assert "Technicien d'astreinte, 06 11 22 33 44" in text
    assert "mis en relation avec l'appelant pendant son appel, 23:06" in text
    assert "JOINT" in text and "aucun message" in text


def test_a_danger_taken_by_the_regional_manager_names_them_not_a_technician():
    at = RECEIVED + timedelta(minutes=2)
    manager = pdf_sheet.SheetReach(
        "Cadre régional joint",
        "Cadre régional d'astreinte Claire Lefèvre",
        "+33639980201",
        "mis en relation avec l'appelant pendant son appel",
        at,
    )
    attempt = SheetAttempt(
        "+33639980201", "cadre régional d'astreinte Claire Lefèvre", at, "completed", True
    )
    sheet = _sheet(
        danger="odeur de gaz",
        action="escalate",
        awaited="Cadre régional joint",
        reached=manager,
        attempts=(attempt,),
    )
    _, text = _read(render_sheet(sheet))
    assert "Cadre régional joint : OUI" in text and "Technicien joint" not in text
    assert "Cadre régional d'astreinte Claire Lefèvre, 06 39 98 02 01" in text


def test_a_voicemail_that_answered_is_never_an_answered_call():
    box = SheetAttempt("+33611223344", "technicien d'astreinte", RECEIVED, "voicemail", False)
    declined = SheetAttempt("+33611223355", "technicien d'astreinte", RECEIVED, "completed", False)
    _, text = _read(render_sheet(_sheet(attempts=(box, declined))))
    assert "messagerie" in text and "décroché, non pris" in text and "abouti" not in text


def test_an_address_the_caller_said_is_wrong_is_shown_to_be_checked():
    _, text = _read(render_sheet(_sheet(details_confirmed=False)))
    assert "SIGNALÉS INEXACTS par l'appelant" in text
    _, text = _read(render_sheet(_sheet(details_confirmed=True)))
    assert "confirmés par l'appelant" in text


def test_a_follow_up_sheet_says_what_changed_when_and_for_which_request():
    pdf = pdf_sheet.render_follow_up(
        pdf_sheet.FollowUpData(
            reference="42",
            received_at=RECEIVED,
            agency="Paris 18e (0751)",
            client="Mme Hélène Bérard, 14 rue Custine, 75018 Paris",
            change=(
                "Le technicien d'astreinte (06 39 98 01 01) indique : rendez-vous convenu, "
                "le 25 à 10 h."
            ),
            at=RECEIVED + timedelta(minutes=40),
        )
    )
    reader, text = _read(pdf)
    _one_a4_page(reader)
    assert "Fiche de suite — réf. 42" in text and "Paris 18e (0751)" in text
    assert "Le jeudi 24 décembre 2026 à 23:45" in text
    assert "rendez-vous convenu, le 25 à 10 h" in text and "14 rue Custine" in text


def test_next_morning_call_is_announced_in_paris_time():
    sheet = _sheet(
        action="call_next_morning",
        attempts=(),
        message_left=False,
        voicemail_message_left=False,
        next_morning_at=datetime(2026, 12, 25, 7, 0, tzinfo=UTC),
    )
    _, text = _read(render_sheet(sheet))
    assert "Technicien joint : NON" in text
    assert "Rappel du technicien prévu le vendredi 25 décembre à 08:00" in text
    assert "Appel du technicien le lendemain matin" in text
    assert "Aucune tentative d'appel" in text


def test_danger_has_a_banner_and_the_regional_copy_says_so():
    sheet = _sheet(
        danger="odeur de gaz",
        action="escalate",
        reason="Danger signalé par l'appelant",
        title_suffix=" — copie direction régionale",
    )
    reader, text = _read(render_sheet(sheet))
    _one_a4_page(reader)
    assert "DANGER : odeur de gaz" in text
    assert "Danger : appel du responsable d'astreinte" in text
    assert "copie direction régionale" in text


def test_long_words_and_many_attempts_stay_on_one_page():
    words = "Il y a de l'eau partout sous la chaudière et le voyant clignote. " * 200
    attempts = tuple(
        SheetAttempt(
            f"+336112233{i:02d}", "technicien", RECEIVED + timedelta(minutes=20 * i), "busy", False
        )
        for i in range(40)
    )
    sheet = _sheet(
        caller_words=words,
        address="Résidence les Tilleuls, bâtiment B, escalier 3, " * 20,
        reason=(  # as long as the rules write one
            "Client individuel 7/7 appelant après 18 h (repos du technicien), avant un jour "
            "d'astreinte : le technicien sera appelé le samedi 26 décembre à 08:00, au début "
            "de l'astreinte de jour ; la fiche est faxée à l'agence Paris Nord-Est Montmartre."
        ),
        phones=tuple(f"+3361122330{i}" for i in range(10)),
        attempts=attempts,
        danger="fumée",
        next_morning_at=RECEIVED + timedelta(hours=9),
    )
    reader, text = _read(render_sheet(sheet))
    _one_a4_page(reader)
    assert "Il y a de l'eau partout" in text and "…" in text  # cut, and shown to be
    assert "ven. 25/12 à 12:05" in text  # the latest listed; after midnight, with its day
    assert "… 36 tentative(s) plus ancienne(s) non listée(s)" in " ".join(text.split())
    assert "Technicien joint : NON" in text and "DANGER : fumée" in text


def test_words_are_shown_whole_when_there_is_room():
    words = "Le radiateur du salon est froid depuis ce matin, les autres chauffent. " * 8
    _, text = _read(render_sheet(_sheet(caller_words=words)))
    assert "…" not in text
    assert " ".join(text.split()).count("les autres chauffent") == 8


def test_absurd_data_still_fits_one_page():
    wide = "Œ" * 500  # among the widest letters Helvetica has, with no space to wrap on
    attempt = SheetAttempt(wide, wide, RECEIVED + timedelta(days=1), wide, False)
    sheet = _sheet(
        **{name: wide for name in ("reference", "client_id", "client_name", "address", "postcode")},
        **{name: wide for name in ("city", "callback_number", "equipment", "contract", "delay")},
        **{name: wide for name in ("fault", "danger", "reason", "agency", "follow_up")},
        caller_words=wide * 10,
        title_suffix=wide,
        phones=(wide,) * 20,
        attempts=(attempt,) * 50,
        reached=pdf_sheet.SheetReach("Technicien joint", wide, wide, wide, RECEIVED),
        next_morning_at=RECEIVED + timedelta(hours=9),
        called_again=(wide,) * 30,  # the client's calls again
    )
    reader, text = _read(render_sheet(sheet))
    _one_a4_page(reader)
    assert "30e rappel" in text
    assert "Technicien joint : OUI" in text and "DANGER" in text
    assert "Appel immédiat du technicien d'astreinte" in text  # our own words are never cut
    assert "message enregistré (42 s)" in text


def test_the_latest_calls_again_are_listed_the_older_counted():
    said = "Le client a rappelé à 23:40 : il a laissé un message de 20 secondes."
    _, text = _read(render_sheet(_sheet(called_again=(said,) * 12)))
    text = " ".join(text.split())
    assert "Rappels du client … 7 rappel(s) plus ancien(s) non listé(s) 8e rappel" in text
    assert f"12e rappel {said}" in text


def test_minimal_unknown_client_and_hostile_text():
    sheet = _sheet(
        client_id=None,
        client_name=None,
        address=None,
        postcode=None,
        city=None,
        phones=(),
        callback_number=None,
        equipment=None,
        contract=None,
        delay=None,
        fault=None,
        caller_words="<b>pas</b> & \u2603 \U0001f525 œuvre\nligne",
        action="not_covered",
        reason="Client inconnu",
        attempts=(),
        message_seconds=75,
        agency=None,
    )
    reader, text = _read(render_sheet(sheet))
    _one_a4_page(reader)
    assert "client non identifié" in text and "non renseigné" in text
    assert "Appelant non identifié : message pour l'agence" in text  # no verdict on a contract
    assert "Non couvert" not in text
    assert "<b>pas</b> &" in text and "œuvre ligne" in text  # shown, not read as markup
    assert "message enregistré (1 min 15 s)" in text


def test_summer_time_and_the_same_data_give_the_same_file():
    sheet = _sheet(received_at=datetime(2026, 7, 14, 20, 30, tzinfo=UTC), attempts=())
    pdf = render_sheet(sheet)
    assert pdf == render_sheet(sheet)  # a re-sent sheet is byte for byte the same
    _, text = _read(pdf)
    assert "mardi 14 juillet 2026 à 22:30" in text


def test_unknown_action_and_outcome_are_shown_as_they_are():
    attempt = SheetAttempt("Jean Dupont", "cadre régional", RECEIVED, "ringing", False)
    _, text = _read(render_sheet(_sheet(action="legacy", attempts=(attempt,))))
    assert "Transféré à l'astreinte habituelle de l'agence" in text
    assert "Jean Dupont" in text and "ringing" in text
    _, text = _read(render_sheet(_sheet(action="something_new")))
    assert "something_new" in text


def test_a_busy_night_keeps_every_value_whole_listing_fewer_calls():
    """A technician unreachable three times, the client calling again twice, the manager
    alerted and taking the request: nine calls, two calls again, two boxes of our words. The
    values stay whole; the calls listed are fewer (the latest), the others counted."""
    attempts = tuple(
        SheetAttempt(
            "+33639980201" if i == 8 else f"+336399801{i:02d}",
            "cadre régional d'astreinte Claire Lefèvre" if i == 8 else "technicien d'astreinte",
            RECEIVED + timedelta(minutes=10 * i),
            "completed" if i == 8 else "no-answer",
            i == 8,
        )
        for i in range(9)
    )
    again = (
        "Le client a rappelé à 23:20 : il n'a pu être mis en relation avec personne et a "
        "laissé un message de 10 secondes.",
    ) * 2
    sheet = _sheet(
        client_name="Syndic Résidence Les Pins",
        reason=(
            "Appel pendant l'astreinte de l'agence Paris Nord (du mardi 22 décembre à 18:00 au "
            "mercredi 23 décembre à 08:00) : le technicien d'astreinte est appelé maintenant."
        ),
        attempts=attempts,
        called_again=again,
        reached=pdf_sheet.SheetReach(
            "Cadre régional joint",
            "Cadre régional d'astreinte Claire Lefèvre",
            "+33639980201",
            "a répondu à l'appel du service d'astreinte et a pris la demande en charge",
            RECEIVED + timedelta(minutes=80),
        ),
        manager_alerted="Technicien injoignable 3 fois de suite : cadre régional alerté (appel "
        "et SMS), le mercredi 23 décembre à 00:00",
        follow_up="technicien en route",
    )
    reader, text = _read(render_sheet(sheet))
    _one_a4_page(reader)
    text = " ".join(text.split())
    for whole in (
        "Syndic Résidence Les Pins",
        "Lyon Est (6903)",
        "le technicien d'astreinte est appelé maintenant.",
        "a répondu à l'appel du service d'astreinte et a pris la demande en charge",
        "Pas de chauffage ni d'eau chaude",
        "cadre régional alerté (appel et SMS), le mercredi 23 décembre à 00:00",
    ):
        assert whole in text, whole
    assert "… 8 tentative(s) plus ancienne(s) non listée(s)" in text
    assert "à 00:25 06 39 98 02 01 cadre régional d'astreinte… JOINT" in text  # the latest
