"""How long a failed login takes, for an address with an account and one without.

    .venv/bin/python bench/login_timing.py [--tries 40]

The answer's time must not tell which addresses have an account: both check a password hash
(scrypt) before answering. Prints the median and p90 of each, and their ratio; PASS when the
medians are within 25 % of each other. In process (Flask's test client, a fresh SQLite file in
a temporary folder), the failures forgotten after each try so that no wait answers first.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from ivr.adapters.db import Database
from ivr.adapters.orm import Base
from ivr.composition import create_app
from ivr.services import accounts
from ivr.settings import Settings


def _timings(client, db, email: str, tries: int) -> list[float]:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": email, "password": "not the password", "csrf_token": token}
    found = []
    for _ in range(tries):
        start = time.perf_counter()
        answer = client.post("/login", data=form)
        found.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.status_code
        accounts.login_succeeded(db, [f"email:{email}", "address:127.0.0.1"])
    return found


def main() -> int:
    logging.getLogger("ivr").setLevel(logging.ERROR)  # one warning a failed login
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ivr-bench-login-") as folder:
        url = f"sqlite:///{folder}/login.sqlite3"
        db = Database(url)
        Base.metadata.create_all(db.engine)
        settings = Settings(DATABASE_URL=url, SECRET_KEY="bench", FAX_FOLDER=Path(folder))
        accounts.add_user(db, settings.make_clock(), "admin@example.fr", "a long password", "admin")
        client = create_app(settings).test_client()
        _timings(client, db, "warm@example.fr", 3)
        rows = {
            "known address": _timings(client, db, "admin@example.fr", args.tries),
            "unknown address": _timings(client, db, "nobody@example.fr", args.tries),
        }
        db.dispose()
    print(f"{'failed login':<16} {'median ms':>10} {'p90 ms':>8}")
    medians = {}
    for name, found in rows.items():
        medians[name] = statistics.median(found)
        p90 = statistics.quantiles(found, n=10)[-1]
        print(f"{name:<16} {medians[name]:>10.1f} {p90:>8.1f}")
    ratio = medians["unknown address"] / medians["known address"]
    passed = 0.75 <= ratio <= 1.25
    print(f"\n{'PASS' if passed else 'FAIL'}  unknown / known = {ratio:.2f} (target 0.75 to 1.25)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
