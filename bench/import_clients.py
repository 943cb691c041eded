"""Benchmark of the weekly client import (`make bench`; docs/performance.md).

    .venv/bin/python bench/import_clients.py [--rows 1000000] [--keep]

1. writes a realistic, seeded client file of `--rows` rows (docs/formats.md, "Client file") in a
   temporary folder;
2. measures the floor: the same file read with `csv.reader` and inserted with
   `sqlite3.executemany` into one plain table (every column TEXT, no index) of a fresh SQLite
   file, in one transaction;
3. measures `import_clients` into a fresh migrated SQLite database with the demo directory
   loaded: wall time and peak RSS;
4. imports the same file a second time over the first (a weekly replacement where nothing
   changed: the diff against the file in force, then the swap) and measures it too;
5. prints a table, PASS/FAIL against the targets: import at most 3x the floor, peak RSS at
   most 400 MB. The exit status is 1 when import #1 misses a target; import #2 is shown for
   information (docs/performance.md).

Each measurement runs in its own child process (this script with `--child`), so that the
peak RSS (`ru_maxrss`) is the import's alone, and no run warms the next one's Python heap.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIRECTORY = ROOT / "config" / "demo"
NOW = "2026-11-26T10:00:00"
SEED = 20261126
MAX_RATIO = 3.0  # import time / floor time
MAX_PEAK_MB = 400.0  # peak RSS of the importing process
RESULT = "RESULT "


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split("|"))


HEADER = _list(
    "client_id|name|address|postcode|city|phone|phone2|equipment|equipment_label|contract|"
    "delay_label|delay_hours|agency|valid_until"
)

# --- The generated file -------------------------------------------------------------------


# agency: (weight %, landline prefix, "postcode city|..."); the four agencies of config/demo.
AGENCIES = {
    "0751": (
        35,
        "1",
        "|".join(f"750{n:02d} Paris" for n in range(1, 21))
        + "|93200 Saint-Denis|93400 Saint-Ouen-sur-Seine|92110 Clichy",
    ),
    "0781": (
        25,
        "1",
        "78000 Versailles|78150 Le Chesnay-Rocquencourt|78100 Saint-Germain-en-Laye|"
        "78120 Rambouillet|78370 Plaisir|78190 Trappes|78180 Montigny-le-Bretonneux|"
        "78990 Élancourt|78200 Mantes-la-Jolie|78110 Le Vésinet",
    ),
    "5701": (
        22,
        "3",
        "57000 Metz|57100 Thionville|57200 Sarreguemines|57600 Forbach|"
        "57300 Hagondange|57050 Le Ban-Saint-Martin|57070 Saint-Julien-lès-Metz|"
        "57160 Moulins-lès-Metz|57140 Woippy|57500 Saint-Avold",
    ),
    "5101": (
        18,
        "3",
        "51100 Reims|51200 Épernay|51000 Châlons-en-Champagne|"
        "51300 Vitry-le-François|51120 Sézanne|51430 Tinqueux|51350 Cormontreuil|"
        "51370 Saint-Brice-Courcelles",
    ),
}
SURNAMES = _list(
    "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|"
    "Lefèvre|Michel|Garcia|David|Bertrand|Roux|Vincent|Fournier|Morel|Girard|André|Mercier|"
    "Dupont|Lambert|Bonnet|François|Martinez|Legrand|Garnier|Faure|Rousseau|Blanc|Guérin|"
    "Muller|Henry|Roussel|Nicolas|Perrin|Morin|Mathieu|Clément|Gauthier|Dumont|Lopez|Fontaine|"
    "Chevalier|Robin|Masson|Sanchez|Gérard|Nguyen|Boyer|Denis|Lemaire|Duval|Joly|Roger|Roche|"
    "Noël|Meyer|Lucas|Meunier|Pérez|Marchand|Dufour|Blanchard|Barbier|Brun|Dumas|Brunet|"
    "Schmitt|Leroux|Colin|Fernandez|Renard|Arnaud|Caron|Aubert|Giraud|Leclerc|Vidal|Bourgeois|"
    "Renaud|Lemoine|Picard|Gaillard|Lacroix|Fabre|Dupuis|Da Silva|Hubert|Rivière|Le Gall|"
    "Ménard|Fleury|Deschamps|Carpentier|Benoît|Prévost|Poirier|Charpentier|Carré|Besnard|"
    "Benali|Haddad|Kowalski|Schneider|Weber|Klein|Becker|Wagner|Hoffmann|Lorentz|Thiébaut|"
    "Hérault|Bérard|Delacroix|Écuyer|Étienne|Mézières|Crépin|Lefébure|Desprès|Bénard|"
    "Cœurdacier|N'Diaye|Lévêque|Nguyễn|Çelik|Öztürk"
)
WOMEN = _list(
    "Hélène|Françoise|Émilie|Cécile|Geneviève|Noémie|Anaïs|Thérèse|Gaëlle|Chloé|Zoé|Léa|"
    "Michèle|Agnès|Bénédicte|Céline|Aurélie|Valérie|Marie-Thérèse|Nadia|Nathalie|Isabelle|"
    "Sylvie|Camille|Manon|Monique|Josiane|Océane|Élodie|Maëlys"
)
MEN = _list(
    "Jérôme|Stéphane|Frédéric|Loïc|Raphaël|Léon|André|René|Joël|Maël|Sébastien|Grégory|"
    "Jean-François|Karim|Pierre|Jacques|Christophe|Julien|Éric|Daniel|Gérard|Yannick|Noël|"
    "Jean-Rémi|Hervé|Benoît|Gaël|Thierry|Didier|Mickaël"
)
BUILDINGS = _list(
    "Les Pins|Les Érables|Le Clos Fleuri|Les Tilleuls|Le Parc Saint-Éloi|Les Châtaigniers|"
    "La Roseraie|Le Belvédère|Les Hêtres|Bellevue|Les Cèdres|Le Hameau du Lac|"
    "Les Jardins de l'Abbaye|Le Cœur de Ville|Côté Parc|Les Marronniers|Le Forum|Les Genêts"
)
COLLECTIVES = _list(
    "Syndic Résidence|Copropriété|SCI|Résidence|ASL|Foyer-logement|Office HLM, résidence"
)
STREET_TYPES = _list("rue|rue|rue|rue|avenue|boulevard|allée|impasse|place|chemin|square|quai")
STREETS = _list(
    "de la République|Victor-Hugo|Jean-Jaurès|des Écoles|du Général-de-Gaulle|Pasteur|"
    "de l'Église|des Lilas|Gambetta|du Moulin|Émile-Zola|de la Gare|Saint-Exupéry|des Côtes|"
    "de Verdun|Anatole-France|du 8-Mai-1945|Clemenceau|des Prés|de Metz|Sainte-Thérèse|"
    "de la Forêt|Jeanne-d'Arc|du Maréchal-Foch|des Tanneurs|Custine|Ordener|Riquet|"
    "Caulaincourt|de la Chapelle|Serpenoise|des Clercs|de Vesle|Cérès|Hélène-Boucher|"
    "des Frères-Lumière|de Bitche|de Noisy-le-Roi"
)
EQUIPMENT_LABELS = {
    "gas_boiler": _list(
        "Chaudière gaz murale Saunier Duval|Chaudière gaz à condensation Frisquet|"
        "Chaudière gaz Viessmann Vitodens 100-W|Chaudière gaz au sol De Dietrich|"
        "Chaudière gaz ELM Leblanc Mégalis|Chaudières murales gaz des 48 logements"
    ),
    "oil_boiler": _list(
        "Chaudière fioul De Dietrich|Chaudière fioul à condensation Viessmann|"
        "Chaudière fioul Chappée Néofit|Chaudière fioul Atlantic Perfinox"
    ),
    "heat_pump": _list(
        "Pompe à chaleur air/eau Atlantic Alféa|PAC Daikin Altherma 3|"
        "Pompe à chaleur géothermique Viessmann|PAC hybride gaz/électricité"
    ),
    "boiler_room": _list(
        "Chaufferie collective, 2 chaudières gaz de 350 kW|Chaufferie fioul de la résidence|"
        "Sous-station de chauffage urbain|Chaufferie bois granulés (bâtiments A à D)"
    ),
    "other": _list(
        "Ballon thermodynamique|Poêle à granulés|Chauffe-eau gaz Vaillant|"
        "Radiateurs électriques à inertie|Adoucisseur d'eau"
    ),
}
HOUSEHOLD_EQUIPMENT = ("gas_boiler", "oil_boiler", "heat_pump", "other"), (60, 12, 20, 8)
BUILDING_EQUIPMENT = ("gas_boiler", "boiler_room", "oil_boiler", "heat_pump"), (45, 40, 10, 5)
# contract: ((delay_label, delay_hours), ...); the hours are left out on some rows below.
DELAYS = {
    "individual_7_7": (
        ("7/7 individuel : intervention le jour même", ""),
        ("intervention sous 24 heures", "24"),
        ("intervention sous 8 heures", "8"),
        ("7/7 : intervention sous 12 heures", "12"),
    ),
    "collective": (
        ("intervention sous 4 heures", "4"),
        ("intervention sous 2 heures", "2"),
        ("intervention dans la demi-journée", ""),
        ("intervention sous 6 heures", "6"),
    ),
    "boiler_room": (
        ("chaufferie : intervention sous 2 heures", "2"),
        ("intervention sous 1 heure", "1"),
        ("intervention sous 1 h 30", "1,5"),
    ),
    "standard": (("", ""), ("", ""), ("", ""), ("sans astreinte : rappel le jour ouvré", "")),
}
# Mobile ranges `phonenumbers` takes as French mainland mobiles (not 0639, 069x, 0700-0729),
# since the `+33 (0)6 ...` form goes through it.
MOBILE_PREFIXES = tuple(
    [f"06{n:02d}" for n in range(90) if n != 39] + [f"07{n:02d}" for n in range(30, 100)]
)


def _digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}"


def _phone(rng: random.Random, prefix: str) -> str:
    """A French number (landline of the region, or mobile) in one of the usual written forms."""
    if prefix == "mobile":
        national = rng.choice(MOBILE_PREFIXES) + _digits(rng, 6)
    else:
        national = "0" + prefix + rng.choice("123456789") + _digits(rng, 7)
    pairs = [national[i : i + 2] for i in range(0, 10, 2)]
    form = rng.random()
    if form < 0.34:
        return " ".join(pairs)  # 01 99 00 12 34
    if form < 0.54:
        return national  # 0199001234
    if form < 0.66:
        return ".".join(pairs)  # 01.99.00.12.34
    if form < 0.78:
        return "+33 " + national[1] + " " + " ".join(pairs[1:])  # +33 6 39 98 12 34
    if form < 0.84:
        return "+33" + national[1:]  # +33639981234
    if form < 0.89:
        return "0033" + national[1:]  # 0033639981234
    if form < 0.93:
        return "0033 " + national[1] + " " + " ".join(pairs[1:])  # 0033 6 39 98 12 34
    if form < 0.99:
        return "-".join(pairs)  # 01-99-00-12-34
    return "+33 (0)" + national[1] + " " + " ".join(pairs[1:])  # +33 (0)1 99 00 12 34


def _client_ids(rng: random.Random, rows: int) -> list[str]:
    """Unique ids of 8, 9 and 10 digits (40 / 35 / 25 %), in no particular order."""
    eight, nine = rows * 40 // 100, rows * 35 // 100
    ids = [str(i) for i in rng.sample(range(10**7, 10**8), eight)]
    ids += [str(i) for i in rng.sample(range(10**8, 10**9), nine)]
    ids += [str(i) for i in rng.sample(range(10**9, 10**10), rows - eight - nine)]
    rng.shuffle(ids)
    return ids


def _household(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    pick = rng.random()
    if pick < 0.35:
        return f"Mme {rng.choice(WOMEN)} {surname}" if rng.random() < 0.6 else f"Mme {surname}"
    if pick < 0.70:
        return f"M. {rng.choice(MEN)} {surname}" if rng.random() < 0.6 else f"M. {surname}"
    if pick < 0.95:
        return f"{rng.choice(('M. et Mme', 'Mme et M.'))} {surname}"
    return f"{rng.choice(('Succession', 'Indivision', 'Dr'))} {surname}"


def generate(path: Path, rows: int, seed: int = SEED) -> None:
    """Write a realistic client file of `rows` rows: `;`, UTF-8, CRLF; same seed, same file."""
    rng = random.Random(seed)
    agencies = [
        (cia, prefix, _list(places))
        for cia, (w, prefix, places) in AGENCIES.items()
        for _ in range(w)
    ]
    first_day = date(2026, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for client_id in _client_ids(rng, rows):
            cia, landline, places = rng.choice(agencies)
            postcode, city = rng.choice(places).split(" ", 1)
            if rng.random() < 0.80:  # a household
                name = _household(rng)
                contract = "individual_7_7" if rng.random() < 0.5 else "standard"
                equipment = rng.choices(*HOUSEHOLD_EQUIPMENT)[0]
            else:  # a building
                name = f"{rng.choice(COLLECTIVES)} {rng.choice(BUILDINGS)}"
                if rng.random() < 0.3:
                    name += f" {rng.choice(('II', 'III', 'bâtiment B', 'tranche 2'))}"
                contract = rng.choices(("collective", "boiler_room", "standard"), (70, 25, 5))[0]
                equipment = rng.choices(*BUILDING_EQUIPMENT)[0]
            suffix = rng.choice(("", "", "", "", "", "", " bis", " ter"))
            address = (
                f"{rng.randint(1, 240)}{suffix} {rng.choice(STREET_TYPES)} {rng.choice(STREETS)}"
            )
            if rng.random() < 0.1:
                address = f"Bât. {rng.choice('ABCDE')}, {address}"
            phone = _phone(rng, landline if rng.random() < 0.55 else "mobile")
            phone2 = ""
            if rng.random() < 0.33:
                phone2 = _phone(rng, "mobile" if rng.random() < 0.8 else landline)
            label = rng.choice(EQUIPMENT_LABELS[equipment]) if rng.random() < 0.85 else ""
            delay_label, hours = rng.choice(DELAYS[contract])
            if hours and rng.random() < 0.4:
                hours = ""  # the number is optional: often only the label is filled in
            valid_until = ""
            if rng.random() < 0.12:
                valid_until = (first_day + timedelta(days=rng.randrange(3 * 365))).isoformat()
            writer.writerow(
                (
                    client_id,
                    name,
                    address,
                    postcode,
                    city,
                    phone,
                    phone2,
                    equipment,
                    label,
                    contract,
                    delay_label,
                    hours,
                    cia,
                    valid_until,
                )
            )


# --- Measurements, each in a child process -----------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_floor(csv_path: Path, db_path: Path) -> dict[str, Any]:
    gc.collect()
    baseline = _rss_mb()
    started = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    columns = ", ".join(f"{name} TEXT" for name in HEADER)
    connection.execute(f"CREATE TABLE clients ({columns})")
    with csv_path.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text, delimiter=";")
        next(reader)
        connection.execute("BEGIN")
        connection.executemany(
            f"INSERT INTO clients VALUES ({', '.join('?' * len(HEADER))})", reader
        )
        connection.execute("COMMIT")
    connection.close()
    seconds = time.perf_counter() - started
    with sqlite3.connect(db_path) as check:
        rows = check.execute("SELECT count(*) FROM clients").fetchone()[0]
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline,
        "rows": rows,
        "accepted": True,
    }


def child_import(csv_path: Path, db_path: Path, prepare: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from ivr.adapters.db import Database
    from ivr.adapters.migrations import upgrade
    from ivr.clock import Clock
    from ivr.domain.local_time import parse_instant
    from ivr.services.importing import import_clients, import_directory

    clock = Clock(parse_instant(NOW))
    db = Database(f"sqlite:///{db_path}")
    if prepare:
        upgrade(db.engine)
        directory = import_directory(db, DIRECTORY, clock)
        if not directory.accepted:
            raise SystemExit("\n".join(directory.lines()))
    gc.collect()
    baseline_rss, baseline_peak = _rss_mb(), _peak_mb()
    started = time.perf_counter()
    report = import_clients(db, csv_path, clock)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    db.dispose()
    c = report.counts
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "baseline_mb": baseline_rss,
        "baseline_peak_mb": baseline_peak,
        "accepted": report.accepted,
        "rows": report.rows,
        "added": c.added,
        "changed": c.changed,
        "removed": c.removed,
        "errors": [str(e) for e in report.errors[:5]],
        "summary": report.summary(),
        "db_mb": sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 2**20,
    }


def run_child(
    *args: str, options: tuple[str, ...] = (), script: Path = Path(__file__)
) -> dict[str, Any]:
    """Run `script` (this one, or another benchmark that reports as it does) as a child doing
    one step; return what it reports."""
    command = [sys.executable, str(script.resolve()), *options, "--child", *args]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    results = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not results:
        sys.stdout.write(done.stdout)
        raise SystemExit(f"the child {' '.join(args[:1])} failed (exit status {done.returncode})")
    result: dict[str, Any] = json.loads(results[-1][len(RESULT) :])
    return result


# --- The run -------------------------------------------------------------------------------


def _verdict(run: dict[str, Any], floor: float) -> tuple[bool, str]:
    misses = []
    if not run["accepted"]:
        misses.append("file rejected")
    if run["seconds"] > MAX_RATIO * floor:
        misses.append(f"> {MAX_RATIO:g}x floor")
    if run["peak_mb"] > MAX_PEAK_MB:
        misses.append(f"> {MAX_PEAK_MB:g} MB")
    return (not misses), ("PASS" if not misses else "FAIL (" + ", ".join(misses) + ")")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the client file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # one measurement, in its own process
        what, *paths = args.child
        if what == "generate":
            generate(Path(paths[0]), args.rows, args.seed)
            result = {}
        elif what == "floor":
            result = child_floor(Path(paths[0]), Path(paths[1]))
        else:
            result = child_import(Path(paths[0]), Path(paths[1]), prepare=(what == "import-fresh"))
        print(RESULT + json.dumps(result), flush=True)
        return 0

    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    try:
        csv_path = folder / "clients.csv"
        started = time.perf_counter()
        # In a child too: this process must stay small, for a child inherits its parent's peak
        # RSS (Linux keeps ru_maxrss across fork and exec).
        run_child(
            "generate", str(csv_path), options=("--rows", str(args.rows), "--seed", str(args.seed))
        )
        size = csv_path.stat().st_size / 2**20
        print(
            f"generated {csv_path} ({args.rows:,} rows, {size:.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        floor = run_child("floor", str(csv_path), str(folder / "floor.sqlite"))
        print(f"floor: {floor['seconds']:.2f} s ({floor['rows']:,} rows)", flush=True)
        database = folder / "ivr.sqlite"
        first = run_child("import-fresh", str(csv_path), str(database))
        print(f"import #1: {first['seconds']:.2f} s, {first['summary']}", flush=True)
        second = run_child("import-again", str(csv_path), str(database))
        print(f"import #2: {second['seconds']:.2f} s, {second['summary']}", flush=True)

        ok = True
        checks = (
            (first, {"added": args.rows, "changed": 0, "removed": 0}),
            (second, {"added": 0, "changed": 0, "removed": 0}),
        )
        for run, expected in checks:
            for problem in run["errors"]:
                print(f"  error: {problem}")
            got = {k: run[k] for k in expected}
            if run["accepted"] and got != expected:
                print(f"  unexpected counts {got}, expected {expected}")
                run["accepted"] = False

        print()
        print(
            f"client import benchmark: {args.rows:,} rows, Python {sys.version.split()[0]}, "
            f"SQLite {sqlite3.sqlite_version}"
        )
        columns = f"{'':<30}{'seconds':>9}{'x floor':>9}{'peak MB':>9}{'base MB':>9}{'+MB':>6}"
        print(f"{columns}  result")
        for label, run in (
            ("floor (csv.reader + sqlite3)", floor),
            ("import #1 (fresh database)", first),
            ("import #2 (same file again)", second),
        ):
            passed, verdict = _verdict(run, floor["seconds"])
            if run is floor:
                verdict = "-"
            elif run is second:
                # The target is the import's (issue #2); the replacement also diffs a million
                # rows against the file in force, and is shown for information.
                verdict = verdict.replace("FAIL", "over") + " (informative)"
            else:
                ok = ok and passed
            print(
                f"{label:<30}{run['seconds']:>9.2f}{run['seconds'] / floor['seconds']:>9.2f}"
                f"{run['peak_mb']:>9.0f}{run['baseline_mb']:>9.0f}"
                f"{run['peak_mb'] - run['baseline_mb']:>6.0f}  {verdict}"
            )
        print(
            f"targets: import <= {MAX_RATIO:g}x floor, peak RSS <= {MAX_PEAK_MB:g} MB "
            "(peak: ru_maxrss of the process; base: its RSS just before; +MB: the difference)"
        )
        print(f"database after both imports: {second['db_mb']:.0f} MB (with WAL)")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
