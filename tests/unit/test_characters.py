"""Characters no XML document may hold (`ivr.domain.characters`)."""

from __future__ import annotations

import pytest

from ivr.domain.characters import forbidden_in, without_forbidden


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x1a", "\x1b", "\ufffe"])
def test_a_control_character_is_found_and_removed(char):
    text = f"Mme B{char}érard"
    assert forbidden_in(text) == f"U+{ord(char):04X}"
    assert without_forbidden(text) == "Mme Bérard"


def test_what_xml_allows_is_kept():
    text = "Chaufferie gaz 2 × 120 kW\tbât. A\r\nœ é « » € 日本"
    assert forbidden_in(text) is None
    assert without_forbidden(text) == text
