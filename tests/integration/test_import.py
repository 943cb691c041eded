"""Importing the reference data: every bad line named, nothing half-written, counts right."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

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
    report = import_clients(db, write(tmp_path, [HEADER, changed, GOOD[1], added]), clock)
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
    assert records[1].error_count == 1 and "line 2" in records[1].report


# --- Rejected files: every bad line named, nothing changed ---------------------------------

BAD_LINES = {
    "bad phone": (GOOD[0].replace("01 99 00 12 34", "01 99 00"), "phone"),
    "duplicate id": (GOOD[1].replace("12345679", "12345678"), "already on line 2"),
    "unknown agency": (
        GOOD[0].replace(";0751;", ";9999;").replace("12345678", "32345678"),
        "agency '9999' is not in the directory",
    ),
    "unknown contract": (GOOD[1].replace("collective", "premium"), "contract 'premium'"),
    "missing field": (GOOD[0].replace("Mme Hélène Bérard", ""), "name is missing"),
    "missing delay for covered contract": (
        GOOD[0].replace("intervention sous 4 heures;4", ";"),
        "delay_label is missing",
    ),
    "short id": (GOOD[0].replace("12345678", "12345"), "6 to 12 digits"),
    "bad date": (GOOD[1].replace("2027-06-30", "30/06/2027"), "YYYY-MM-DD"),
    "stray column": (GOOD[1] + ";oops", "15 fields where the header has 14"),
    "missing column": (GOOD[1].rsplit(";", 1)[0], "13 fields where the header has 14"),
    "bad equipment": (GOOD[1].replace("boiler_room;", "chaudiere;"), "equipment 'chaudiere'"),
    "control character": (GOOD[0].replace("Bérard", "B\x1aérard"), "control character U+001A"),
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


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\r\n\r\n", "empty file"),
        ((HEADER + "\r\n").encode(), "no data rows"),
        ("\n".join([HEADER, *GOOD]).encode("utf-16"), "UTF-16"),
        (HEADER.replace("contract;", "").encode() + b"\n" + GOOD[0].encode(), "missing column"),
        (b"\x00\x01\x02binary", "binary"),
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
    assert [(p.line, "UTF-8" in p.reason) for p in report.errors] == [(3, True)]


def test_missing_file(db, clock, directory, tmp_path):
    report = import_clients(db, tmp_path / "nope.csv", clock)
    assert not report.accepted and "file missing" in str(report.errors[0])


def test_clients_need_a_directory_first(db, clock, tmp_path):
    report = import_clients(db, write(tmp_path, [HEADER, *GOOD]), clock)
    assert not report.accepted
    assert any("import the directory first" in str(p) for p in report.errors)


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
    assert not report.accepted and "is running" in str(report.errors[0])


def test_readers_see_the_file_in_force_while_an_import_is_staged(db, clock, directory, tmp_path):
    """Rows of the standby table, not yet swapped in, are invisible to lookups."""
    assert import_clients(db, write(tmp_path, [HEADER, GOOD[0]]), clock).accepted
    with db.session() as session:
        in_force = find_client(session, "12345678")
        session.add(staged_row("12345679"))
    with db.session() as session:
        assert find_client(session, "12345679") is None
        assert find_client(session, "12345678") == in_force


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
        ("agencies.csv", ";IDF;", ";XXX;", "region 'XXX' is not in regions.csv"),
        ("oncall_windows.csv", "0751;", "0999;", "agency '0999' is not in agencies.csv"),
        ("oncall_lines.csv", "5101;", "5199;", "agency '5199' is not in agencies.csv"),
        ("oncall_windows.csv", "18:00", "25:00", "HH:MM"),
        ("oncall_windows.csv", "sat,sun", "sam,dim", "days"),
        ("regional_managers.csv", "\nIDF;", "\nNOPE;", "region 'NOPE' is not in regions.csv"),
        ("agencies.csv", "2027-01-04;01 99 00 12 90", "2027-01-04;", "legacy_number is required"),
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


def test_a_missing_directory_file_is_named(db, clock, tmp_path):
    folder = copy_demo(tmp_path)
    (folder / "oncall_lines.csv").unlink()
    report = import_directory(db, folder, clock)
    assert not report.accepted
    assert any(p.file == "oncall_lines.csv" and "missing" in p.reason for p in report.errors)


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
    assert any("agency 5701 is missing" in p.reason for p in report.errors)


def test_planning_gaps_and_overlaps_are_warned(db, clock, tmp_path):
    folder = copy_demo(tmp_path)
    managers = (folder / "regional_managers.csv").read_text(encoding="utf-8").splitlines()
    del managers[3]
    (folder / "regional_managers.csv").write_text("\n".join(managers), encoding="utf-8")
    report = import_directory(db, folder, clock)
    assert report.accepted
    assert any("gap" in w.reason for w in report.warnings)


def test_calls_are_answered_from_the_file_in_force_during_an_import(db, clock, directory, tmp_path):
    """While a large file is staged in another thread, every lookup sees the old file whole,
    then the new one whole: never neither, never a half-loaded mix."""
    import threading

    old = write(tmp_path, [HEADER, GOOD[0]], name="old.csv")
    assert import_clients(db, old, clock).accepted
    rows = [GOOD[1].replace("12345679", f"{50_000_000 + i}") for i in range(30_000)]
    new = write(tmp_path, [HEADER, *rows], name="new.csv")
    seen: list[tuple[bool, bool]] = []
    done = threading.Event()

    def look_up() -> None:
        while not done.wait(0.001):  # a call every millisecond or so
            with db.snapshot() as session:
                seen.append(
                    (
                        find_client(session, "12345678") is not None,
                        find_client(session, "50029999") is not None,
                    )
                )

    reader = threading.Thread(target=look_up)
    reader.start()
    try:
        report = import_clients(db, new, clock)
    finally:
        done.set()
        reader.join()
    assert report.accepted and report.counts.added == 30_000 and report.counts.removed == 1
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
