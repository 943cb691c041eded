"""The trace's sentences, as an agency reads them in the morning: French that reads right."""

from __future__ import annotations

import pytest

from ivr.domain.trace_words import event_said


def technician(number: str) -> str:
    return f"le technicien d'astreinte de l'agence Paris Nord ({number})"


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        ({"digits": "1"}, "A tapé 1."),
        (
            {"digits": "", "speech": "ça sent le gaz", "confidence": 0.9},
            "A dit : « ça sent le gaz ».",
        ),
        ({"digits": ""}, "N'a rien tapé."),
    ],
)
def test_what_came_in_says_what_the_caller_keyed_or_said(detail, said):
    assert event_said("input", detail, technician) == said


def test_a_dial_names_whom_it_calls_in_good_french():
    said = event_said("dial", {"number": "06 39"}, technician)
    assert (
        said
        == "Mise en relation : on appelle le technicien d'astreinte de l'agence Paris Nord (06 39)."
    )


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        ({"number": "06 39", "accepted": True}, "mis en relation."),
        ({"number": "06 39", "accepted": False}, "pas de réponse."),
        (  # not the technician's doing: the caller hung up while it rang
            {"number": "06 39", "accepted": False, "caller_gone": True},
            "l'appelant a raccroché avant.",
        ),
    ],
)
def test_a_lines_outcome_says_whose_doing_it_was(detail, said):
    words = event_said("dial_outcome", detail, technician)
    assert words == f"Le technicien d'astreinte de l'agence Paris Nord (06 39) : {said}"


def test_a_sheets_fax_is_named_as_its_office_whoever_it_goes_to():
    """A danger's sheet goes to the agency and to the regional direction: « Pour » names
    each, never a bare number an assistant cannot place."""
    from ivr.domain.trace_words import job_for, namer
    from tests.unit.builders import directory, fixed, make_agency, make_region

    offices = directory(
        [make_agency(name="Paris Nord")], regions=[make_region(name="Île-de-France")]
    )
    name = namer(offices, None)
    assert job_for({"to": fixed(101)}, name) == "l'agence Paris Nord (01 99 00 01 01)"
    assert (
        job_for({"to": fixed(11)}, name) == "la direction régionale Île-de-France (01 99 00 00 11)"
    )
    assert job_for({"to": "+33199000999"}, name) == "01 99 00 09 99"  # nobody of ours


def test_a_fax_two_agencies_share_is_named_as_the_requests_agency():
    from ivr.domain.trace_words import job_for, namer
    from tests.unit.builders import directory, fixed, make_agency

    # Two agencies, one fax (the builder gives each the same).
    shared = directory([make_agency(name="Paris Nord"), make_agency(cia="0752", name="Paris Est")])
    sheet = {"to": fixed(101)}
    assert job_for(sheet, namer(shared, None)) == "l'agence Paris Nord (01 99 00 01 01)"
    assert job_for(sheet, namer(shared, None, "0752")) == "l'agence Paris Est (01 99 00 01 01)"


def test_a_star_by_mistake_reads_as_what_happened():
    assert event_said("staff_key", {}, technician).startswith("Touche étoile")
    said = event_said("staff_unknown_agency", {"keyed": "10000002"}, technician)
    assert said == "Code agence inconnu (10000002)."
    assert (
        event_said("staff_unknown_agency", {"keyed": ""}, technician) == "Aucun code agence tapé."
    )
