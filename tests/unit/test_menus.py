"""How a caller's menus speak (docs/call-flow.md, "Key map"): four choices at most in one
menu, each its key last; from the default words of config/prompts.toml."""

from __future__ import annotations

import re

from ivr.adapters.prompt_store import defaults, guides

STAFF = {"announcement", "dispatcher", "sms", "client_texts", "staff"}  # the rest: callers
CHOICE = re.compile(r"tapez ([0-9*#]|étoile|dièse)", re.IGNORECASE)


def test_no_menu_a_caller_hears_offers_more_than_four_choices():
    menus = {
        name: CHOICE.findall(prompt.text)
        for name, prompt in defaults().items()
        if guides()[name].moment not in STAFF
    }
    assert menus["ask_fault"] == ["1", "2", "3", "4"]
    assert {name: keys for name, keys in menus.items() if len(keys) > 4} == {}
