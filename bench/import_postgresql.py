"""The weekly client import at national scale on PostgreSQL (docs/performance.md).

    .venv/bin/python bench/import_postgresql.py [--rows 2000000] [--postgresql URL]

1. writes a seeded client file of `--rows` rows (`bench/import_clients.py`'s generator);
2. measures the floor: the same file sent by a plain `COPY ... FROM STDIN (FORMAT csv)` into
   one bare table (every column text, no index), in a schema of its own;
3. measures `import_clients` (psycopg's COPY, its checks, its indexes, the diff against the
   file in force, the swap) into a migrated schema with the demo directory: wall time and
   peak RSS;
4. measures PostgreSQL's own share of that import, for scale: the rows `import_clients`
   stored, already checked, copied again by a plain `COPY` into a fresh client table (its
   primary key as during a load) and indexed as the import indexes it. No importer that
   leaves the clients indexed can make PostgreSQL do less;
5. for each step, the CPU it used: the measuring process's own, and the PostgreSQL server's
   (every `postgres` process of this machine, the backends that ended included; not shown
   when the server runs elsewhere). Wall time can be bought with more connections; CPU
   cannot. Against the CPU the machine's cores offer within 2x the floor, it tells whether
   any importer doing the same work could meet the target here;
6. prints them, PASS/FAIL against the targets (issue 17): at most 2x the floor, a peak RSS
   under 400 MB. The exit status is 1 when one is missed.

Each measurement runs in its own child process, so that the peak RSS is the import's alone.
The webhooks during such an import: `bench/import_during_calls.py --rows 2000000
--postgresql URL`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_clients
from import_clients import DIRECTORY, HEADER, NOW, RESULT, ROOT, _peak_mb, run_child

MAX_RATIO = 2.0
MAX_PEAK_MB = 400.0


def server_cpu() -> float | None:
    """CPU seconds used so far by the PostgreSQL server of this machine: every `postgres`
    process's own, and what the postmaster's ended children (backends, parallel workers)
    used once it has reaped them: measure with the connections still open. None when no
    such process is visible (a server elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    used, seen = 0, False
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or (proc / "comm").read_text().strip() != "postgres":
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        seen = True
        used += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return used / tick if seen else None


def measured(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `step`, adding to what it reports its wall time and the CPU it used: this
    process's and the PostgreSQL server's."""
    server, own, started = server_cpu(), time.process_time(), time.perf_counter()
    result = step()
    seconds, own_cpu, server_after = (
        time.perf_counter() - started,
        time.process_time() - own,
        server_cpu(),
    )
    spent = None if server is None or server_after is None else server_after - server
    return {**result, "seconds": seconds, "own_cpu": own_cpu, "server_cpu": spent}


def _schema(url: str) -> tuple[str, str]:
    """A fresh schema: its name, and `url` with it as the search path."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{name}"')
    return name, f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"


def _drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{name}" CASCADE')


def child_floor(csv_path: Path, url: str) -> dict[str, Any]:
    import psycopg

    columns = ", ".join(f"{name} text" for name in HEADER)
    # Connected before the measure and closed after it: a backend that has ended may not be
    # counted yet (see `server_cpu`).
    with psycopg.connect(url) as connection, connection.cursor() as cursor:

        def copy_the_file() -> dict[str, Any]:
            cursor.execute(f"CREATE TABLE bare ({columns})")
            copy_sql = "COPY bare FROM STDIN (FORMAT csv, DELIMITER ';', HEADER true)"
            with cursor.copy(copy_sql) as copy, csv_path.open("rb") as data:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            connection.commit()
            return {"rows": cursor.execute("SELECT count(*) FROM bare").fetchone()[0]}

        result = measured(copy_the_file)
    return {**result, "peak_mb": _peak_mb()}


def child_import(csv_path: Path, url: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from ivr.adapters.db import Database
    from ivr.adapters.migrations import upgrade
    from ivr.clock import Clock
    from ivr.domain.local_time import parse_instant
    from ivr.services.importing import import_clients as load
    from ivr.services.importing import import_directory

    clock = Clock(parse_instant(NOW))
    db = Database(url)
    upgrade(db.engine)
    if not import_directory(db, DIRECTORY, clock).accepted:
        raise SystemExit("the demo directory was refused")

    def import_the_file() -> dict[str, Any]:
        report = load(db, csv_path, clock)
        return {"rows": report.rows, "accepted": report.accepted, "summary": report.summary()}

    result = measured(import_the_file)
    db.dispose()
    return {**result, "peak_mb": _peak_mb()}


def child_share(csv_path: Path, url: str) -> dict[str, Any]:
    """PostgreSQL's share of the import: its stored rows copied into a new client table,
    then that table's indexes built; see the module docstring."""
    import psycopg

    rows_path = csv_path.with_name("checked.txt")
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        table = cursor.execute("SELECT clients_table FROM reference_state").fetchone()[0]
        columns = [
            name
            for (name,) in cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = current_schema() AND column_name <> 'id' "
                "ORDER BY ordinal_position",
                (table,),
            )
        ]
        listed = ", ".join(columns)
        with cursor.copy(f"COPY {table} ({listed}) TO STDOUT") as copy, rows_path.open("wb") as out:
            for data in copy:
                out.write(data)
        # The import's own index definitions, renamed onto the new table.
        indexes = [
            re.sub(r" ON \S+ USING ", " ON share USING ", d).replace(f"_{table}_", "_share_")
            for (d,) in cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s "
                "AND schemaname = current_schema() AND indexname <> %s",
                (table, f"pk_{table}"),
            )
        ]
        cursor.execute(f"CREATE TABLE share (LIKE {table} INCLUDING DEFAULTS)")
        cursor.execute("ALTER TABLE share ADD PRIMARY KEY (id)")

        def load_and_index() -> dict[str, Any]:
            started, cpu = time.perf_counter(), server_cpu()
            with (
                connection.transaction(),
                cursor.copy(f"COPY share ({listed}) FROM STDIN") as copy,
                rows_path.open("rb") as data,
            ):
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            loaded, load_cpu = time.perf_counter() - started, server_cpu()
            for definition in indexes:
                cursor.execute(definition)
            spent = None if cpu is None or load_cpu is None else load_cpu - cpu
            return {"load_seconds": loaded, "load_cpu": spent, "indexes": len(indexes)}

        result = measured(load_and_index)
    rows_path.unlink()
    return result


def _cpu_report(floor: dict[str, Any], ours: dict[str, Any], share: dict[str, Any]) -> str:
    """The CPU each step used, against what the machine's cores offer within the target."""
    if None in (floor["server_cpu"], ours["server_cpu"], share["server_cpu"]):
        return "CPU: not shown, the PostgreSQL server is not on this machine"
    cores = os.cpu_count() or 1
    offered = cores * MAX_RATIO * floor["seconds"]

    def used(run: dict[str, Any], own: str) -> str:
        total = run["server_cpu"] + run["own_cpu"]
        return f"{total:.1f} (PostgreSQL {run['server_cpu']:.1f}, {own} {run['own_cpu']:.1f})"

    left = (offered - share["server_cpu"]) / floor["rows"] * 1e6
    return (
        f"CPU seconds: plain COPY {used(floor, 'its client')}; import_clients "
        f"{used(ours, 'Python')}; PostgreSQL's share alone {share['server_cpu']:.1f} (the "
        f"load {share['load_cpu']:.1f}, the indexes {share['server_cpu'] - share['load_cpu']:.1f}"
        f"). Within {MAX_RATIO:g}x the plain COPY, this machine's {cores} cores offer "
        f"{offered:.1f} CPU seconds: beside PostgreSQL's share, {left:.1f} µs a row at most "
        f"for reading and checking it, with every core busy all along (import_clients: "
        f"{ours['own_cpu'] / floor['rows'] * 1e6:.1f} µs)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--postgresql", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, csv_path, url = args.child
        run = {"floor": child_floor, "import": child_import, "share": child_share}[step]
        print(RESULT + json.dumps(run(Path(csv_path), url)))
        return 0
    with tempfile.TemporaryDirectory(prefix="ivr-bench-pg-import-") as folder:
        csv_path = Path(folder) / "clients.csv"
        started = time.perf_counter()
        import_clients.generate(csv_path, args.rows)
        size = csv_path.stat().st_size / 2**20
        print(f"{args.rows} rows, {size:.0f} MB, written in {time.perf_counter() - started:.0f} s")
        schemas = [_schema(args.postgresql) for _ in range(2)]
        try:
            floor = run_child("floor", str(csv_path), schemas[0][1], script=Path(__file__))
            ours = run_child("import", str(csv_path), schemas[1][1], script=Path(__file__))
            share = run_child("share", str(csv_path), schemas[1][1], script=Path(__file__))
        finally:
            for name, _ in schemas:
                _drop(args.postgresql, name)
    ratio = ours["seconds"] / floor["seconds"]
    ok = ours["accepted"] and ratio <= MAX_RATIO and ours["peak_mb"] <= MAX_PEAK_MB
    print(f"plain COPY into a bare table: {floor['seconds']:.1f} s, {floor['rows']} rows")
    print(
        f"import_clients: {ours['seconds']:.1f} s ({ratio:.2f}x the plain COPY), "
        f"peak RSS {ours['peak_mb']:.0f} MB; {ours['summary']}"
    )
    print(
        f"PostgreSQL's share alone (the checked rows copied into a client table, then its "
        f"{share['indexes']} indexes): {share['seconds']:.1f} s "
        f"({share['seconds'] / floor['seconds']:.2f}x the plain COPY; the load "
        f"{share['load_seconds']:.1f} s)"
    )
    print(_cpu_report(floor, ours, share))
    print(f"targets: <= {MAX_RATIO:g}x, <= {MAX_PEAK_MB:g} MB -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
