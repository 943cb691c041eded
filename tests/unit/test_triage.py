"""Danger words in the caller's own words, and spoken digits."""

from __future__ import annotations

import pytest

from ivr.domain.triage import Danger, danger_in, spoken_digits


@pytest.mark.parametrize(
    ("words", "danger"),
    [
        ("ça sent le gaz dans la cuisine", Danger.GAS),
        ("il y a une odeur bizarre", Danger.GAS),
        ("une odeur de brûlé vient de la chaudière", Danger.FIRE),
        ("de la FUMÉE sort de la chaufferie", Danger.FIRE),
        ("la chaudière a pris feu", Danger.FIRE),
        ("ma fille s'est évanouie", Danger.CARBON_MONOXIDE),
        ("nous sommes intoxiqués je crois", Danger.CARBON_MONOXIDE),
        ("j'ai mal à la tête depuis ce matin", Danger.CARBON_MONOXIDE),
        ("le détecteur de monoxyde sonne", Danger.CARBON_MONOXIDE),
    ],
)
def test_danger_words_are_heard(words, danger):
    found = danger_in(words)
    assert found is not None and found[0] is danger


@pytest.mark.parametrize(
    "words",
    [
        "plus de chauffage",
        "le radiateur fuit",
        "pas d'eau chaude",
        "la chaudière affiche F28",
        "le feutre est sec",
    ],
)
def test_ordinary_words_are_not_a_danger(words):
    assert danger_in(words) is None


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("1 0 0 0 0 0 0 2", "10000002"),
        ("zéro six, douze", "06"),
        ("neuf", "9"),
        ("un deux trois", "123"),
        ("", ""),
    ],
)
def test_spoken_digits(words, digits):
    assert spoken_digits(words) == digits
