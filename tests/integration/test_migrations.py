"""Migrations bring a database in use up to date: what it holds is kept, or carried over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from ivr.adapters.db import Database
from ivr.adapters.migrations import alembic_config, upgrade
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


def test_saved_fault_menu_words_naming_five_keys_are_replaced_with_an_alert(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    upgrade(db.engine, "0011")
    five = "Chauffage, 1. Eau chaude, 2. Fuite, 3. Code erreur, 4. Autre, 5."
    saved_by_an_administrator(db, {"ask_fault": five})
    upgrade(db.engine)
    with db.snapshot() as session:
        texts = session.scalars(
            select(PromptVersionRow.text)
            .where(PromptVersionRow.name == "ask_fault")
            .order_by(PromptVersionRow.version)
        ).all()
        alerts = session.scalars(select(AlertRow.message).where(AlertRow.kind == "prompts_reset"))
        [alert] = [a for a in alerts if "ask_fault" in a]
    assert texts[0] == five and texts[-1].endswith("Autre problème, tapez 4.")
    assert "5 another problem" in alert
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """An empty database of each kind, for the migrations that differ by kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    else:
        url = request.getfixturevalue("unmigrated_postgres_url")
    db = Database(url)
    yield db
    db.dispose()


def test_client_ids_become_unique_in_force_a_stopped_import_left_for_the_next_one(
    empty_database: Database,
):
    db = empty_database
    upgrade(db.engine, "0010")
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE reference_state SET clients_table = 'clients_a'"))
        a_client(connection, "clients_a", "100001", "+33102030405")
        a_client(connection, "clients_a", "100002", "+33102030406")
        # An import stopped half-way through a file that had one client twice: the standby
        # lost its indexes before the load, as every load does.
        connection.execute(text("DROP INDEX ix_clients_b_client_id"))
        a_client(connection, "clients_b", "100001", "+33102030405")
        a_client(connection, "clients_b", "100001", "+33102030407")
    upgrade(db.engine)
    with db.engine.connect() as connection:
        in_force = connection.execute(text("SELECT client_id FROM clients_a ORDER BY 1")).all()
        standby = connection.execute(text("SELECT count(*) FROM clients_b")).scalar_one()
    assert [r.client_id for r in in_force] == ["100001", "100002"]
    assert standby == 2  # untouched: the next import empties it
    assert client_id_indexes(db) == {"clients_a": ["uq_clients_a_client_id"], "clients_b": []}
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        a_client(connection, "clients_a", "100002", "+33102030408")
    downgrade(db, "0010")  # and back: two rows may share an id again
    assert client_id_indexes(db) == {
        "clients_a": ["ix_clients_a_client_id"],
        "clients_b": ["ix_clients_b_client_id"],
    }
    with db.engine.begin() as connection:
        a_client(connection, "clients_a", "100002", "+33102030408")


def test_a_fresh_database_has_unique_client_ids_in_both_tables(empty_database: Database):
    upgrade(empty_database.engine)
    assert client_id_indexes(empty_database) == {
        "clients_a": ["uq_clients_a_client_id"],
        "clients_b": ["uq_clients_b_client_id"],
    }


def client_id_indexes(db: Database) -> dict[str, list[str]]:
    found = inspect(db.engine)
    return {
        table: sorted(
            i["name"] for i in found.get_indexes(table) if i["column_names"] == ["client_id"]
        )
        for table in ("clients_a", "clients_b")
    }


def downgrade(db: Database, revision: str) -> None:
    config = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def a_client(connection, table: str, client_id: str, phone: str) -> None:
    connection.execute(
        text(
            f"INSERT INTO {table} (line, client_id, name, address, postcode, city, phone, "
            "equipment, equipment_label, contract, delay_label, agency) VALUES (2, :id, "
            "'M. Martin', '1 rue de la Gare', '57000', 'Metz', :phone, 'gas_boiler', '', "
            "'standard', '', '5701')"
        ),
        {"id": client_id, "phone": phone},
    )


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
