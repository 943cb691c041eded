"""Words as a French voice says them (`ivr.domain.spoken`)."""

from __future__ import annotations

import pytest

from ivr.domain.local_time import parse_instant
from ivr.domain.spoken import contract_said, hour_said, said, when_said
from tests.unit.builders import make_client


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("Chaufferie gaz 2 × 120 kW", "Chaufferie gaz 2 fois 120 kilowatts"),
        ("Chaufferie gaz 1x150kW", "Chaufferie gaz 1 fois 150 kilowatts"),
        (
            "7/7 individuel : intervention le jour même",
            "sept jours sur sept individuel, intervention le jour même",
        ),
        ("M. et Mme Delacroix", "Monsieur et Madame Delacroix"),
        ("MM. Durand & Fils", "Messieurs Durand et Fils"),
        ("12 bd de la Villette", "12 boulevard de la Villette"),
        ("3 av. Foch", "3 avenue Foch"),
        ("Pompe à chaleur air/eau", "Pompe à chaleur air eau"),
        ("Bâtiment n°4", "Bâtiment numéro 4"),
        ("14 rue Custine", "14 rue Custine"),  # nothing to change
        ("Résidence du Parc 24h/24", "Résidence du Parc vingt-quatre heures sur vingt-quatre"),
    ],
)
def test_what_a_voice_would_misread_is_written_in_words(written, spoken):
    assert said(written) == spoken


@pytest.mark.parametrize(
    "at, now, spoken",
    [
        ("2026-12-19T08:00", "2026-12-18T19:30", "demain samedi, à 8 heures"),
        ("2026-12-19T08:30", "2026-12-19T01:10", "ce matin, à 8 heures 30"),
        ("2026-12-18T20:00", "2026-12-18T19:30", "ce soir, à 20 heures"),
        ("2026-12-21T12:00", "2026-12-18T19:30", "lundi, à midi"),
        ("2027-01-02T08:00", "2026-12-24T22:00", "samedi 2 janvier, à 8 heures"),
        ("2026-03-29T08:00", "2026-03-28T22:00", "demain dimanche, à 8 heures"),  # DST night
    ],
)
def test_times_are_said_as_people_say_them(at, now, spoken):
    assert when_said(parse_instant(at), parse_instant(now)) == spoken


@pytest.mark.parametrize(
    "hour, minute, spoken",
    [
        (8, 0, "8 heures"),
        (8, 30, "8 heures 30"),
        (1, 0, "1 heure"),
        (1, 5, "1 heure 5"),
        (12, 0, "midi"),
        (12, 30, "12 heures 30"),
        (0, 0, "minuit"),
        (0, 15, "minuit 15"),
        (23, 45, "23 heures 45"),
    ],
)
def test_an_hour_is_said_as_people_say_it(hour, minute, spoken):
    assert hour_said(hour, minute) == spoken


def test_the_contractual_delay_as_the_caller_hears_it():
    seven = make_client("individual_7_7", delay_label="7/7 individuel : intervention le jour même")
    assert contract_said(seven) == {
        "contract": "Votre contrat sept jours sur sept",
        "delay": "une intervention le jour même",
    }
    collective = make_client("collective", delay_label="intervention sous 4 heures")
    assert contract_said(collective) == {
        "contract": "Votre contrat",
        "delay": "une intervention sous 4 heures",
    }
    odd = make_client("boiler_room", delay_label="Intervention 24h/24 sous 2 h")
    assert contract_said(odd)["delay"] == (
        "une intervention vingt-quatre heures sur vingt-quatre sous 2 h"
    )
