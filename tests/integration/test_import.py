"""Importing the reference data: every bad line named, nothing half-written, counts right."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, ClientsB, ImportRecord
from ivr.adapters.repository import client_count as count_in_force
from ivr.adapters.repository import find_client, load_directory
from ivr.clock import Clock
from ivr.services.importing import import_clients, import_directory
from tests.conftest import DEMO

HEADER = (
    "client_id;name;address;postcode;city;phone;phone2;equipment;equipment_label;"
    "contract;delay_label;delay_hours;agency;valid_until"
)
GOOD = [
    "12345678;Mme Hélène Bérard;3 rue des Lilas;75018;Paris;01 99 00 12 34;;gas_boiler;;"
    "individual_7_7;intervention sous 4 heures;4;0751;",
    "12345679;Syndic Résidence Les Pins;8 avenue Foch;75017;Paris;+33 1 99 00 12 35;"
    "06.39.98.12.35;boiler_room;Chaufferie collective;collective;intervention sous 2 heures;"
    "2;0751;2027-06-30",
    "12345680;M. Jean Dupont;1 place Stanislas;57000;Metz;0033353011234;;oil_boiler;;standard;"
    ";;5701;",
]


def write(
    tmp_path: Path,
    lines: list[str],
    name: str = "clients.csv",
    encoding: str = "utf-8",
    delimiter: str = ";",
) -> Path:
    path = tmp_path / name
    body = "\r\n".join(line.replace(";", delimiter) for line in lines) + "\r\n"
    path.write_bytes(body.encode(encoding))
    return path


@pytest.fixture
def directory(db: Database, clock: Clock) -> None:
    report = import_directory(db, DEMO, clock)
    assert report.accepted, list(report.lines())


def client_count(db: Database) -> int:
    """Clients in the file in force."""
    with db.snapshot() as session:
        return count_in_force(session)


# --- Accepted files ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_both_encodings_and_both_delimiters_load(
    db, clock, directory, tmp_path, encoding, delimiter
):
    lines = (
        [HEADER, *GOOD]
        if delimiter == ";"
        else [HEADER, *(line.replace(",", " ") for line in GOOD)]
    )
    report = import_clients(
        db, write(tmp_path, lines, encoding=encoding, delimiter=delimiter), clock
    )
    assert report.accepted, list(report.lines())
    assert (report.counts.added, report.counts.changed, report.counts.removed) == (3, 0, 0)
    with db.session() as session:
        client = find_client(session, "12345678")
        other = find_client(session, "12345679")
    assert client is not None and client.name == "Mme Hélène Bérard"
    assert client.phone == "+33199001234"
    assert other is not None and other.phone2 == "+33639981235"
    assert str(other.valid_until) == "2027-06-30"


def test_counts_added_changed_removed_against_the_file_in_force(db, clock, directory, tmp_path):
    assert import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock).accepted
    changed = GOOD[0].replace("Mme Hélène Bérard", "Mme Hélène Bérard-Roux")
    added = GOOD[2].replace("12345680", "22345680")
    lines = [HEADER, changed, GOOD[1], added]
    report = import_clients(db, write(tmp_path, lines), clock, allow_shrink=True)
    assert report.accepted
    assert (report.counts.added, report.counts.changed, report.counts.removed) == (1, 1, 1)
    assert client_count(db) == 3
    with db.session() as session:
        assert find_client(session, "12345680") is None
        assert find_client(session, "22345680") is not None


def test_blank_lines_are_skipped_and_extra_columns_warned(db, clock, directory, tmp_path):
    lines = [HEADER + ";comment", "", *(g + ";x" for g in GOOD), "  ;  "]
    lines[-1] = ";" * HEADER.count(";") + ";"
    report = import_clients(db, write(tmp_path, lines), clock)
    assert report.accepted, list(report.lines())
    assert any("comment" in str(w) for w in report.warnings)


def test_history_records_every_import(db, clock, directory, tmp_path):
    import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock)
    import_clients(db, write(tmp_path, [HEADER, GOOD[0] + ";extra"]), clock)
    with db.session() as session:
        records = session.scalars(
            select(ImportRecord).where(ImportRecord.kind == "clients").order_by(ImportRecord.id)
        ).all()
    assert [r.status for r in records] == ["accepted", "rejected"]
    assert records[0].added == 3 and len(records[0].file_hash) == 64
    assert records[1].error_count == 1 and "clients.csv, ligne 2 :" in records[1].report


def test_reports_and_history_name_the_file_as_it_was_sent(db, clock, directory, tmp_path):
    """A file kept under another path (an upload's) is named as its sender knows it."""
    kept = write(tmp_path, [HEADER, GOOD[0], GOOD[1] + ";oops"], name="upload-3f2a.csv")
    report = import_clients(db, kept, clock, name="clients-semaine-52.csv")
    assert [str(p) for p in report.errors] == [
        "clients-semaine-52.csv, ligne 3 : 15 champs alors que l'en-tête en a 14 "
        "(un séparateur en trop ?)"
    ]
    assert "clients-semaine-52.csv" in report.summary()
    with db.snapshot() as session:
        record = session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc())).first()
    assert record.file_name == "clients-semaine-52.csv"
    assert "upload-3f2a" not in record.report and str(tmp_path) not in record.report


# --- A file that removes many clients: confirmed, or refused --------------------------------


def ten_clients() -> list[str]:
    return [GOOD[0].replace("12345678", f"{20_000_000 + i}") for i in range(10)]


@pytest.fixture
def ten_in_force(db, clock, directory, tmp_path) -> list[str]:
    rows = ten_clients()
    assert import_clients(db, write(tmp_path, [HEADER, *rows], name="first.csv"), clock).accepted
    return rows


def test_a_file_removing_a_tenth_of_the_clients_is_imported_as_usual(
    db, clock, ten_in_force, tmp_path
):
    report = import_clients(db, write(tmp_path, [HEADER, *ten_in_force[1:]]), clock)
    assert report.accepted, list(report.lines())
    assert report.counts.removed == 1 and report.warnings == []


def test_a_file_removing_more_than_a_tenth_is_refused_unconfirmed_and_changes_nothing(
    db, clock, ten_in_force, tmp_path
):
    report = import_clients(db, write(tmp_path, [HEADER, *ten_in_force[2:]]), clock)
    assert not report.accepted
    [problem] = report.errors
    assert problem.line == 0 and problem.file == "clients.csv"
    assert "retirerait 2 des 10 clients en vigueur (20 %), plus de 10 %" in problem.reason
    assert (
        "en cochant la case « J'accepte que le fichier retire plus de 10 % des clients »"
        in problem.reason
    )
    assert "--allow-shrink" in problem.reason
    assert client_count(db) == 10
    with db.snapshot() as session:
        record = session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc())).first()
        assert find_client(session, ten_in_force[0][:8]) is not None
    assert record.status == "rejected" and record.removed == 0
    assert "retirerait 2 des 10 clients" in record.report


def test_a_confirmed_file_removing_many_clients_is_imported_and_says_so(
    db, clock, ten_in_force, tmp_path
):
    five = [HEADER, *ten_in_force[5:]]
    report = import_clients(db, write(tmp_path, five), clock, allow_shrink=True)
    assert report.accepted, list(report.lines())
    assert [str(w) for w in report.warnings] == [
        "clients.csv : retire 5 des 10 clients en vigueur (50 %), comme confirmé"
    ]
    assert report.counts.removed == 5 and client_count(db) == 5


def test_a_file_with_bad_lines_is_judged_on_them_not_on_what_it_removes(
    db, clock, ten_in_force, tmp_path
):
    bad = ten_in_force[5].replace("0751", "9999")
    report = import_clients(db, write(tmp_path, [HEADER, bad]), clock)
    assert [p.line for p in report.errors] == [2]
    assert "l'agence « 9999 »" in report.errors[0].reason


# --- Rejected files: every bad line named, nothing changed ---------------------------------

BAD_LINES = {
    "bad phone": (
        GOOD[0].replace("01 99 00 12 34", "01 99 00"),
        "colonne « phone » : « 01 99 00 » n'est pas un numéro de téléphone valable",
    ),
    "duplicate id": (
        GOOD[1].replace("12345679", "12345678"),
        "colonne « client_id » : « 12345678 » figure déjà à la ligne 2",
    ),
    "unknown agency": (
        GOOD[0].replace(";0751;", ";9999;").replace("12345678", "32345678"),
        "colonne « agency » : l'agence « 9999 » n'est pas dans l'annuaire",
    ),
    "unknown contract": (
        GOOD[1].replace("collective", "premium"),
        "colonne « contract » : « premium » n'est pas une valeur possible (boiler_room, ",
    ),
    "missing field": (
        GOOD[0].replace("Mme Hélène Bérard", ""),
        "colonne « name » vide : elle est obligatoire",
    ),
    "missing delay for covered contract": (
        GOOD[0].replace("intervention sous 4 heures;4", ";"),
        "colonne « delay_label » vide : elle est obligatoire pour un contrat « individual_7_7 »",
    ),
    "short id": (
        GOOD[0].replace("12345678", "12345"),
        "colonne « client_id » : « 12345 » doit avoir de 6 à 12 chiffres",
    ),
    "bad postcode": (
        GOOD[0].replace("75018", "7501"),
        "colonne « postcode » : « 7501 » doit avoir 5 chiffres",
    ),
    "bad date": (
        GOOD[1].replace("2027-06-30", "30/06/2027"),
        "colonne « valid_until » : « 30/06/2027 » doit être une date AAAA-MM-JJ",
    ),
    "stray column": (GOOD[1] + ";oops", "15 champs alors que l'en-tête en a 14"),
    "missing column": (GOOD[1].rsplit(";", 1)[0], "13 champs alors que l'en-tête en a 14"),
    "bad equipment": (
        GOOD[1].replace("boiler_room;", "chaudiere;"),
        "colonne « equipment » : « chaudiere » n'est pas une valeur possible",
    ),
    "control character": (
        GOOD[0].replace("Bérard", "B\x1aérard"),
        "colonne « name » : caractère de contrôle U+001A dans « Mme Hélène B[U+001A]érard »",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
def test_a_bad_line_rejects_the_file_and_changes_nothing(db, clock, directory, tmp_path, case):
    first = import_clients(
        db, write(tmp_path, [HEADER, GOOD[2].replace("12345680", "99999999")]), clock
    )
    assert first.accepted
    line, reason = BAD_LINES[case]
    report = import_clients(db, write(tmp_path, [HEADER, GOOD[0], GOOD[1], line]), clock)
    assert not report.accepted
    assert [p.line for p in report.errors] == [4]
    assert reason in report.errors[0].reason
    assert client_count(db) == 1  # the file in force is untouched
    with db.session() as session:
        assert find_client(session, "99999999") is not None
        assert find_client(session, "12345678") is None


def test_every_bad_line_is_reported_not_just_the_first(db, clock, directory, tmp_path):
    lines = [HEADER, *GOOD, *(bad for bad, _ in BAD_LINES.values())]
    report = import_clients(db, write(tmp_path, lines), clock)
    assert not report.accepted
    assert [p.line for p in report.errors] == list(range(5, 5 + len(BAD_LINES)))
    assert client_count(db) == 0


# Words an English report would hold and a French one never does. « Import », capitalised,
# is the back office's own French noun (« Import accepté »): only the lower case is English.
ENGLISH = {"error", "warning", "line", "added", "removed", "rejected", "accepted", "import"}
ENGLISH |= {"must", "missing", "the", "is", "not", "already", "found"}


def english_words(text: str) -> set[str]:
    """The English words of `text`; file and column names (`clients.csv`, `delay_label`) and
    the files' values are no words of the report's and hold none of them."""
    return {w for w in re.findall(r"\w+", text) if w.lower() in ENGLISH and w != "Import"}


def test_a_rejected_client_files_report_is_french_on_every_line(db, clock, directory, tmp_path):
    lines = [HEADER + ";comment", *(g + ";x" for g in GOOD)]
    lines += [bad + ";x" for bad, _ in BAD_LINES.values() if bad.count(";") == HEADER.count(";")]
    lines += [GOOD[0]]  # a field short of the header, now that it has an extra column
    report = import_clients(db, write(tmp_path, lines), clock)
    assert not report.accepted and report.warnings
    assert len(report.errors) == len(lines) - 1 - len(GOOD)  # each bad line named
    with db.snapshot() as session:
        record = session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc())).first()
    kept = record.report.splitlines()
    assert kept == list(report.lines())
    assert kept[0].startswith("erreur : clients.csv, ligne ")
    assert kept[-1].startswith("Import du fichier clients refusé : ")
    assert {line: english_words(line) for line in kept if english_words(line)} == {}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "fichier vide"),
        (b"\r\n\r\n", "fichier vide"),
        ((HEADER + "\r\n").encode(), "aucune ligne de données"),
        ("\n".join([HEADER, *GOOD]).encode("utf-16"), "UTF-16"),
        (
            HEADER.replace("contract;", "").encode() + b"\n" + GOOD[0].encode(),
            "ligne 1 : colonne(s) manquante(s) dans l'en-tête : « contract »",
        ),
        (b"\x00\x01\x02binary", "binaire"),
    ],
    ids=["empty", "blank lines only", "header only", "utf-16", "header without contract", "binary"],
)
def test_unreadable_files_are_rejected_with_a_reason(
    db, clock, directory, tmp_path, content, reason
):
    path = tmp_path / "clients.csv"
    path.write_bytes(content)
    report = import_clients(db, path, clock)
    assert not report.accepted
    assert reason in str(report.errors[0]), list(report.lines())


def test_mixed_encodings_name_the_foreign_lines(db, clock, directory, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(
        "\r\n".join([HEADER, GOOD[0]]).encode("cp1252") + b"\r\n" + GOOD[1].encode("utf-8")
    )
    report = import_clients(db, path, clock)
    assert not report.accepted
    assert [(p.line, "en UTF-8 alors que" in p.reason) for p in report.errors] == [(3, True)]


def test_missing_file(db, clock, directory, tmp_path):
    report = import_clients(db, tmp_path / "nope.csv", clock)
    assert not report.accepted and str(report.errors[0]) == "nope.csv : fichier manquant"


def test_clients_need_a_directory_first(db, clock, tmp_path):
    report = import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock)
    assert not report.accepted
    assert any("importez d'abord l'annuaire" in str(p) for p in report.errors)


def staged_row(client_id: str, name: str = "staged") -> ClientsB:
    """A row in the standby table, as an import that has not swapped yet leaves it."""
    return ClientsB(
        line=2,
        client_id=client_id,
        name=name,
        address="x",
        postcode="75001",
        city="x",
        phone="+33199000000",
        phone2=None,
        equipment="other",
        equipment_label="",
        contract="collective",
        delay_label="x",
        delay_hours=None,
        agency="0751",
        valid_until=None,
    )


def test_an_import_left_running_by_a_crash_is_cleaned_up(db, clock, directory, tmp_path):
    """A crashed import leaves staged rows and a 'running' record; the next one copes."""
    assert import_clients(db, write(tmp_path, [HEADER, GOOD[0]]), clock).accepted
    with db.session() as session:
        record = ImportRecord(
            kind="clients",
            status="running",
            file_name="x",
            file_hash="",
            started_at=clock.now().replace(year=2025),
        )
        session.add_all([record, staged_row("77777777")])
    report = import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock)
    assert report.accepted, list(report.lines())
    assert client_count(db) == 3
    with db.session() as session:
        assert find_client(session, "77777777") is None
        assert session.get(ImportRecord, record.id).status == "failed"


def test_a_client_import_already_running_is_not_raced(db, clock, directory, tmp_path):
    with db.session() as session:
        session.add(
            ImportRecord(
                kind="clients",
                status="running",
                file_name="x",
                file_hash="",
                started_at=clock.now(),
            )
        )
    report = import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock)
    assert not report.accepted and "est en cours" in str(report.errors[0])


def test_readers_see_the_file_in_force_while_an_import_is_staged(db, clock, directory, tmp_path):
    """Rows of the standby table, not yet swapped in, are invisible to lookups."""
    assert import_clients(db, write(tmp_path, [HEADER, GOOD[0]]), clock).accepted
    with db.session() as session:
        in_force = find_client(session, "12345678")
        session.add(staged_row("12345679"))
    with db.session() as session:
        assert find_client(session, "12345679") is None
        assert find_client(session, "12345678") == in_force


def test_the_client_id_index_named_as_before_0011_goes_at_the_next_load(
    db, clock, directory, tmp_path
):
    """An import by the release before, during an upgrade, builds the client id's index
    under its old name; kept up row by row, it would slow every load that follows."""
    for table in ("clients_a", "clients_b"):
        with db.engine.begin() as connection:
            connection.execute(text(f"CREATE INDEX ix_{table}_client_id ON {table} (client_id)"))
    for _ in ("clients_a", "clients_b"):  # each table loaded once
        assert import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock).accepted
    indexes = inspect(db.engine)
    for table in ("clients_a", "clients_b"):
        names = {i["name"] for i in indexes.get_indexes(table)}
        assert f"uq_{table}_client_id" in names
        assert f"ix_{table}_client_id" not in names


# --- The directory ------------------------------------------------------------------------


def copy_demo(tmp_path: Path) -> Path:
    folder = tmp_path / "directory"
    shutil.copytree(DEMO, folder)
    return folder


def test_demo_directory_loads_whole(db, clock):
    report = import_directory(db, DEMO, clock)
    assert report.accepted, list(report.lines())
    with db.session() as session:
        directory = load_directory(session)
    assert set(directory.agencies) == {"0751", "0781", "5701", "5101"}
    assert directory.agencies["5701"].department == "57"
    assert report.detail["agencies.csv"].added == 4
    again = import_directory(db, DEMO, clock)
    assert (again.counts.added, again.counts.changed, again.counts.removed) == (0, 0, 0)


def test_directory_changes_are_counted(db, clock, tmp_path):
    assert import_directory(db, DEMO, clock).accepted
    folder = copy_demo(tmp_path)
    agencies = (folder / "agencies.csv").read_text(encoding="utf-8")
    (folder / "agencies.csv").write_text(
        agencies.replace("Reims", "Reims Champagne", 1), encoding="utf-8"
    )
    report = import_directory(db, folder, clock)
    assert report.accepted
    assert report.detail["agencies.csv"].changed == 1


@pytest.mark.parametrize(
    ("file", "find", "replace", "reason"),
    [
        ("agencies.csv", ";IDF;", ";XXX;", "la région « XXX » n'est pas dans regions.csv"),
        ("oncall_windows.csv", "0751;", "0999;", "l'agence « 0999 » n'est pas dans agencies.csv"),
        ("oncall_lines.csv", "5101;", "5199;", "l'agence « 5199 » n'est pas dans agencies.csv"),
        ("oncall_windows.csv", "18:00", "25:00", "« start » : « 25:00 » doit être une heure HH:MM"),
        ("oncall_windows.csv", "sat,sun", "sam,dim", "jour(s) inconnu(s) « sam », « dim »"),
        ("regional_managers.csv", "\nIDF;", "\nNOPE;", "la région « NOPE » n'est pas dans"),
        (
            "agencies.csv",
            "2027-01-04;01 99 00 12 90",
            "2027-01-04;",
            "colonne « legacy_number » vide : elle est obligatoire jusqu'au « 2027-01-04 »",
        ),
    ],
    ids=[
        "unknown region",
        "window of unknown agency",
        "line of unknown agency",
        "bad time",
        "bad days",
        "manager of unknown region",
        "future live_from without legacy number",
    ],
)
def test_a_bad_directory_changes_nothing(db, clock, tmp_path, file, find, replace, reason):
    assert import_directory(db, DEMO, clock).accepted
    folder = copy_demo(tmp_path)
    content = (folder / file).read_text(encoding="utf-8")
    assert find in content, f"test data: {find!r} not in {file}"
    (folder / file).write_text(content.replace(find, replace), encoding="utf-8")
    report = import_directory(db, folder, clock)
    assert not report.accepted
    assert any(reason in p.reason and p.file == file for p in report.errors), list(report.lines())
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AgencyRow)) == 4
        assert load_directory(session).agencies["0751"].region == "IDF"


def test_a_folder_and_a_file_taken_for_one_another_are_said_once(db, clock, directory, tmp_path):
    clients = import_clients(db, tmp_path, clock)
    assert not clients.accepted
    assert [p.reason for p in clients.errors] == ["c'est un dossier, pas un fichier"]
    (tmp_path / "clients.csv").write_text(HEADER + "\r\n", encoding="utf-8")
    folder = import_directory(db, tmp_path / "clients.csv", clock)
    assert not folder.accepted
    assert [p.reason for p in folder.errors] == ["ce n'est pas un dossier"]
    with db.session() as session:
        assert load_directory(session).agencies  # the directory in force is untouched


def test_a_directory_file_not_read_at_all_is_the_only_error_said(db, clock, directory, tmp_path):
    """Its header wrong, agencies.csv has no rows: said once, not followed by every line of
    the other files « not in agencies.csv », nor advice to remove the agencies' clients."""
    assert import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock).accepted
    folder = copy_demo(tmp_path)
    rows = (folder / "agencies.csv").read_text(encoding="utf-8").splitlines()
    (folder / "agencies.csv").write_text("\n".join(["foo;bar", *rows[1:]]), encoding="utf-8")
    report = import_directory(db, folder, clock)
    assert not report.accepted
    assert {(p.file, p.line) for p in report.errors} == {("agencies.csv", 1)}, list(report.lines())
    assert "colonne(s) manquante(s) dans l'en-tête" in report.errors[0].reason


def test_a_missing_directory_file_is_named(db, clock, tmp_path):
    folder = copy_demo(tmp_path)
    (folder / "oncall_lines.csv").unlink()
    report = import_directory(db, folder, clock)
    assert not report.accepted
    assert "erreur : oncall_lines.csv : fichier manquant" in list(report.lines())


def test_an_agency_with_clients_cannot_disappear(db, clock, directory, tmp_path):
    assert import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock).accepted
    folder = copy_demo(tmp_path)
    agencies = (folder / "agencies.csv").read_text(encoding="utf-8").splitlines()
    kept = [line for line in agencies if not line.startswith("5701;")]
    (folder / "agencies.csv").write_text("\n".join(kept), encoding="utf-8")
    for name in ("oncall_windows.csv", "oncall_lines.csv"):
        rows = (folder / name).read_text(encoding="utf-8").splitlines()
        (folder / name).write_text(
            "\n".join(r for r in rows if not r.startswith("5701;")), encoding="utf-8"
        )
    report = import_directory(db, folder, clock)
    assert not report.accepted
    assert (
        "l'agence 5701 n'est plus dans agencies.csv, mais 1 client en vigueur en dépend"
    ) in report.errors[0].reason


def test_the_directory_report_names_the_zip_not_the_folder_it_was_unpacked_into(
    db, clock, tmp_path
):
    folder = copy_demo(tmp_path)
    (folder / "regions.csv").unlink()
    report = import_directory(db, folder, clock, name="annuaire-2027.zip")
    assert not report.accepted
    assert "annuaire-2027.zip" in report.summary()
    assert not any(str(tmp_path) in line for line in report.lines())
    with db.snapshot() as session:
        record = session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc())).first()
    assert record.file_name == "annuaire-2027.zip" and str(tmp_path) not in record.report


def test_hours_a_contract_is_left_without_cover_are_warned(db, clock):
    """The demo's Metz: Sunday's windows end at midnight, weekday nights start at 18:00."""
    report = import_directory(db, DEMO, clock)
    assert report.accepted
    gaps = [str(w) for w in report.warnings if "n'a pas de plage d'astreinte" in w.reason]
    assert (
        "oncall_windows.csv : l'agence 5701 n'a pas de plage d'astreinte pour ses clients "
        "collectifs et chaufferies le lun. de 00:00 à 08:00 : personne n'est appelé, la fiche "
        "est faxée à l'agence"
    ) in gaps
    assert not any("l'agence 0751" in g for g in gaps)  # Paris is on call at every hour


def test_a_night_left_uncovered_before_a_daytime_shift_is_warned_with_its_morning_call(
    db, clock, tmp_path
):
    folder = copy_demo(tmp_path)
    windows = (folder / "oncall_windows.csv").read_text(encoding="utf-8")
    assert "0751;all;mon,tue,wed,thu,fri;18:00;08:00" in windows
    (folder / "oncall_windows.csv").write_text(
        windows.replace("0751;all;mon,tue,wed,thu,fri;", "0751;all;mon,tue,wed,thu;"),
        encoding="utf-8",
    )
    report = import_directory(db, folder, clock)
    assert report.accepted
    assert (
        "l'agence 0751 n'a pas de plage d'astreinte pour ses clients collectifs et chaufferies "
        "le ven. de 18:00 à 08:00 le lendemain : le technicien n'est appelé qu'à 08:00, au "
        "début de l'astreinte de jour"
    ) in [w.reason for w in report.warnings]


def test_planning_gaps_and_overlaps_are_warned(db, clock, tmp_path):
    folder = copy_demo(tmp_path)
    managers = (folder / "regional_managers.csv").read_text(encoding="utf-8").splitlines()
    del managers[3]
    (folder / "regional_managers.csv").write_text("\n".join(managers), encoding="utf-8")
    report = import_directory(db, folder, clock)
    assert report.accepted
    assert any(
        w.file == "regional_managers.csv" and w.reason.startswith("trou dans le planning")
        for w in report.warnings
    ), list(report.lines())


def test_calls_are_answered_from_the_file_in_force_during_an_import(db, clock, directory, tmp_path):
    """While a large file is staged in another thread, every lookup sees the old file whole,
    then the new one whole: never neither, never a half-loaded mix."""
    import threading

    old = write(tmp_path, [HEADER, GOOD[0]], name="old.csv")
    assert import_clients(db, old, clock).accepted
    # Long enough for the reader to look up many times while it runs, on either database.
    many = 100_000
    rows = [GOOD[1].replace("12345679", f"{50_000_000 + i}") for i in range(many)]
    new = write(tmp_path, [HEADER, *rows], name="new.csv")
    seen: list[tuple[bool, bool]] = []
    done = threading.Event()

    def look_up() -> None:
        while not done.wait(0.001):  # a call every millisecond or so
            with db.snapshot() as session:
                seen.append(
                    (
                        find_client(session, "12345678") is not None,
                        find_client(session, f"{50_000_000 + many - 1}") is not None,
                    )
                )

    reader = threading.Thread(target=look_up)
    reader.start()
    try:
        report = import_clients(db, new, clock, allow_shrink=True)  # the old client goes
    finally:
        done.set()
        reader.join()
    assert report.accepted and report.counts.added == many and report.counts.removed == 1
    assert set(seen) <= {(True, False), (False, True)}
    switch = seen.index((False, True)) if (False, True) in seen else len(seen)
    assert all(s == (True, False) for s in seen[:switch])
    assert all(s == (False, True) for s in seen[switch:])
    assert seen.count((True, False)) > 10  # the reader really ran during the import


def test_clients_are_found_by_either_phone(db, clock, directory, tmp_path):
    from ivr.adapters.repository import clients_with_phone, table_in_force

    assert import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock).accepted
    with db.snapshot() as session:
        table = table_in_force(session)
        assert [c.client_id for c in clients_with_phone(session, "+33199001234", table)] == [
            "12345678"
        ]
        assert [c.client_id for c in clients_with_phone(session, "+33639981235", table)] == [
            "12345679"
        ]
        assert clients_with_phone(session, "+33100000000", table) == []
