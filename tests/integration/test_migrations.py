"""Migrations bring a database in use up to date: what it holds is kept, or carried over."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from ivr.adapters.db import Database
from ivr.adapters.migrations import upgrade
from ivr.adapters.orm import AlertRow, PromptVersionRow


def test_saved_words_that_name_the_old_staff_keys_are_replaced_and_an_alert_says_so(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    upgrade(db.engine, "0005")
    old = "Pour réécouter, tapez 1. Pour confirmer que vous prenez la demande en charge, tapez 2."
    mine = "Bonjour, tapez 1 pour réécouter."
    saved_by_an_administrator(db, {"outbound_menu": old, "welcome": mine})
    upgrade(db.engine, "0006")
    with db.snapshot() as session:
        versions = session.execute(
            select(PromptVersionRow.name, PromptVersionRow.version, PromptVersionRow.text).order_by(
                PromptVersionRow.name, PromptVersionRow.version
            )
        ).all()
        [alert] = session.execute(select(AlertRow.kind, AlertRow.message)).all()  # as of 0006
    assert [(n, v) for n, v, _ in versions] == [
        ("outbound_menu", 1),
        ("outbound_menu", 2),
        ("welcome", 1),
    ]
    assert "mis en relation avec le client maintenant, tapez 1" in versions[1].text  # the new keys
    assert versions[2].text == mine  # words that name no staff key are theirs still
    assert alert.kind == "prompts_reset" and "outbound_menu" in alert.message
    db.dispose()


def test_saved_words_that_were_untrue_are_replaced_shorter_ones_kept_with_an_alert(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    upgrade(db.engine, "0006")
    untrue = "Le technicien n'a pas pu être joint. Il est prévenu et vous rappellera."
    greeting = "Bonjour, vous êtes au service d'urgence de la société."
    saved = {"technician_unreached": untrue, "welcome": greeting, "confirm_callback": "Tapez 1."}
    saved_by_an_administrator(db, saved)
    upgrade(db.engine)
    with db.snapshot() as session:
        newest = dict(
            session.execute(
                select(PromptVersionRow.name, PromptVersionRow.text).order_by(
                    PromptVersionRow.version
                )
            ).all()
        )
        alerts = dict(session.execute(select(AlertRow.kind, AlertRow.message)).all())
    assert "Nous continuons à l'appeler" in newest["technician_unreached"]  # a new version
    assert newest["welcome"] == greeting  # the administrator's words, in force still
    assert "technician_unreached" in alerts["prompts_reset"]
    assert "welcome" in alerts["prompts_review"] and "confirm_callback" in alerts["prompts_review"]
    db.dispose()


def saved_by_an_administrator(db: Database, words: dict[str, str]) -> None:
    """The first version of each prompt, as the back office saves it."""
    with db.engine.begin() as connection:
        connection.execute(
            insert(PromptVersionRow.__table__),
            [
                {
                    "name": name,
                    "version": 1,
                    "text": text,
                    "created_by": "admin",
                    "created_at": datetime(2026, 11, 1, tzinfo=UTC),
                }
                for name, text in words.items()
            ],
        )
