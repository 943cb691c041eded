"""What an operator installs (deploy/): the systemd units start commands that exist, with
options that exist, and systemd accepts them; the nginx site passes `nginx -t` and a call
placed through it over TLS keeps its signature (the app signs against the public URL)."""

from __future__ import annotations

import os
import shlex
import shutil
import ssl
import subprocess
import sys
import sysconfig
import urllib.parse
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ivr.adapters.migrations import head_revision
from ivr.cli import main
from tests.conftest import AUTH_TOKEN, NGINX, needs_nginx, new_call, running_ivr, wait_until
from tests.web.test_nginx_front import _free_port, _listening

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
IVR = Path(sys.executable).parent / "ivr"
ROOT = DEPLOY.parent
HEAD = head_revision()
# What a release holds that the package is built from (docs/operations.md, "Installing a host").
RELEASED = ("ivr", "voice_flows", "config", "migrations", "pyproject.toml", "README.md")


def exec_start(unit: Path) -> list[str]:
    [line] = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_each_unit_starts_an_ivr_command_with_options_that_exist(unit):
    program, *args = exec_start(unit)
    assert program == "/opt/ivr/.venv/bin/ivr"
    options = [a for a in args if a.startswith("--")]
    words = [a for a in args if not a.startswith("-")][:2]
    helped = CliRunner().invoke(main, [*words[: 2 if words[0] == "import" else 1], "--help"])
    assert helped.exit_code == 0, helped.output
    assert all(option in helped.output for option in options), (unit.name, options)


def test_the_package_as_pip_installs_it_makes_its_database(tmp_path):
    """An operator installs a release with `pip install` (not the editable install of `make`):
    the package alone, run from where pip put it, must hold what `ivr db upgrade` needs."""
    source, target = tmp_path / "release", tmp_path / "site-packages"
    source.mkdir()
    for name in RELEASED:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / name, source / name)
    installing = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    installing += ["--no-build-isolation", "--target", str(target), str(source)]
    subprocess.run(installing, check=True, capture_output=True, cwd=tmp_path)
    # -S: not this checkout's editable install; the installed package first, then the
    # libraries it needs from this venv.
    libraries = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), libraries])}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    upgrade = "import ivr.cli; print(ivr.cli.__file__); ivr.cli.main()"
    upgraded = subprocess.run(
        [sys.executable, "-S", "-c", upgrade, "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [
        str(target / "ivr" / "cli.py"),
        f"database schema created, at {HEAD}",
    ]


def pins() -> dict[str, str]:
    """constraints.txt: each distribution's name, canonical, and its pinned version."""
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    named = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pair) == 2 for pair in named), "only name==version lines"
    return {canonicalize_name(name): version for name, version in named}


def needed_by(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions `name` (installed) needs to run, with `extras`, recursively."""
    found: set[str] = set()
    for line in metadata.requires(name) or []:
        wanted = Requirement(line)
        applies = not wanted.marker or any(
            wanted.marker.evaluate({"extra": extra}) for extra in extras | {""}
        )
        key = canonicalize_name(wanted.name)
        if applies and key not in found:
            found |= {key} | needed_by(wanted.name, frozenset(wanted.extras))
    return found


def test_a_release_installs_the_versions_the_suite_ran_with():
    """`pip install -c constraints.txt` (docs/operations.md) gives every host, on any day, the
    versions this suite passed with; a bare `pip install` takes whatever is newest that day,
    and hosts installed a week apart would differ."""
    pinned = pins()
    assert needed_by("ivr") - pinned.keys() == set()  # what production runs, every piece
    ran_with = {name: metadata.version(name) for name in pinned}
    assert ran_with == pinned  # make installs .venv from the pins too
    oldest = [name for name in pinned if "3.11" not in SpecifierSet(python_needed(name))]
    assert oldest == []  # Debian 12's Python installs every pin


def python_needed(name: str) -> str:
    return metadata.metadata(name).get("Requires-Python") or ""


def test_every_ivr_unit_raises_an_alert_when_it_fails():
    """systemd starts ivr-unit-failed@UNIT when a unit fails: a refused weekly import, a
    service that gave up restarting (`systemd-analyze verify` does not check the name)."""
    handler = DEPLOY / "systemd" / "ivr-unit-failed@.service"
    lines = handler.read_text().splitlines()
    assert not [line for line in lines if line.startswith("OnFailure=")]  # its own: logged only
    for unit in UNITS:
        if unit != handler:
            assert "OnFailure=ivr-unit-failed@%N.service" in unit.read_text().splitlines()


def test_systemd_accepts_the_units(tmp_path):
    for unit in (DEPLOY / "systemd").iterdir():  # the venv's path made this machine's
        text = unit.read_text().replace("/opt/ivr/.venv/bin/ivr", str(IVR))
        (tmp_path / unit.name).write_text(text)
    verified = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
    )
    complaints = [line for line in verified.stderr.splitlines() if "ivr" in line]
    assert verified.returncode == 0 and not complaints, verified.stderr


@needs_nginx
def test_a_call_through_the_tls_site_keeps_its_signature(tmp_path, database_url, demo):
    """deploy/nginx/ivr-site.conf as shipped but for its names and ports: TLS with a
    certificate made here, `X-Forwarded-*` to an app with IVR_TRUSTED_PROXIES=1."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    port, plain = _free_port(), _free_port()
    public = f"https://127.0.0.1:{port}"
    env = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": public, "IVR_TRUSTED_PROXIES": "1"}
    with running_ivr(database_url, **env) as app:
        site = (DEPLOY / "nginx" / "ivr-site.conf").read_text()
        site = (
            site.replace("server 127.0.0.1:8000;", f"server {urllib.parse.urlsplit(app).netloc};")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{plain};")
            .replace(
                "/etc/letsencrypt/live/astreinte.example.fr/fullchain.pem",
                str(tmp_path / "cert.pem"),
            )
            .replace(
                "/etc/letsencrypt/live/astreinte.example.fr/privkey.pem", str(tmp_path / "key.pem")
            )
            .replace("/etc/nginx/ivr-locations.conf", str(DEPLOY / "nginx" / "ivr-locations.conf"))
        )
        (tmp_path / "site.conf").write_text(site)
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"user root;\ndaemon off;\npid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log;\nevents {{}}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
            f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/site.conf;\n}}\n"
        )
        tested = subprocess.run(
            [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
        )
        assert tested.returncode == 0, tested.stderr
        nginx = subprocess.Popen([str(NGINX), "-p", str(tmp_path), "-c", str(conf)])
        try:
            wait_until(lambda: _listening(port), "nginx to listen")
            unverified = ssl._create_unverified_context()  # the certificate made above
            status, twiml = new_call(f"{public}/twilio/voice", context=unverified)
            assert status == 200 and "numéro de contrat" in twiml
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


EXAMPLE = DEPLOY / "ivr.env.example"
NOT_IN_PRODUCTION = {"IVR_CLOCK", "IVR_SIMULATOR"}  # the demo's and the tests'


def read_settings(path: Path, commented: bool = False) -> dict[str, str]:
    """The settings of an environment file as systemd's EnvironmentFile= reads these simple
    lines: `KEY=value`, one pair of quotes around a value taken off. `commented`: the lines
    that show a default instead (`#KEY=value`)."""
    settings = {}
    for line in path.read_text().splitlines():
        if commented != line.startswith("#"):
            continue
        key, equals, value = line.removeprefix("#").partition("=")
        if equals and key.isidentifier() and key.isupper():
            quoted = len(value) > 1 and value[0] == value[-1] and value[0] in "'\""
            settings[key] = value[1:-1] if quoted else value
    return settings


# An installation's own values, where the example holds the placeholder.
OWN = {
    "SECRET_KEY": "s" * 64,
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "IVR_CALLER_ID": "+33199000000",
    "NATIONAL_DUTY_NUMBER": "+33199009999",
    "EMERGENCY_FORWARD_NUMBER": "+33199008888",
    "ALERT_EMAILS": "exploitation@example.fr",
    "ALERT_SMS_NUMBERS": "+33639980000",
    "METRICS_TOKEN": "m" * 40,
    "FAX_HTTP_PROJECT_ID": "project",
    "FAX_HTTP_KEY_ID": "key",
    "FAX_HTTP_KEY_SECRET": "secret",
}


def test_the_example_settings_name_every_setting_with_valid_values_and_true_defaults():
    from ivr.settings import PLACEHOLDER, Settings

    given, defaults = read_settings(EXAMPLE), read_settings(EXAMPLE, commented=True)
    assert set(Settings.model_fields) - NOT_IN_PRODUCTION == set(given) | set(defaults)
    assert {key for key, value in given.items() if value.startswith(PLACEHOLDER)} == set(OWN)
    given |= OWN
    settings = Settings(**given)  # every value valid (phone numbers, URLs, choices)
    assert settings.FAX_TRANSPORT == "http" and settings.LOG_FORMAT == "json"
    for key, default in defaults.items():
        if default:
            assert getattr(Settings(**given, **{key: default}), key) == getattr(settings, key)


def test_the_shell_reads_the_example_settings_as_systemd_does():
    """ivr-admin sources the file with sh; the services get it from systemd."""
    shown = subprocess.run(
        ["env", "-i", "sh", "-c", 'set -a; . "$0"; env -0', str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sourced = dict(item.split("=", 1) for item in shown.split("\0") if item)
    assert {key: sourced.get(key) for key in read_settings(EXAMPLE)} == read_settings(EXAMPLE)


def ivr_admin(tmp_path: Path, settings: str, *args: str) -> subprocess.CompletedProcess[str]:
    """deploy/ivr-admin run as this user, with `settings` as its /etc/ivr/ivr.env and a
    DATABASE_URL of the caller's own shell that it must not use."""
    (tmp_path / "ivr.env").write_text(settings)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'not-this.sqlite3'}",
        "IVR_SETTINGS": str(tmp_path / "ivr.env"),
        "IVR_PROGRAM": str(IVR),
        "IVR_USER": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
    }
    admin = [str(DEPLOY / "ivr-admin"), *args]
    return subprocess.run(admin, capture_output=True, text=True, env=env)


def test_ivr_admin_runs_ivr_with_the_settings_file_alone(tmp_path):
    """The operator's commands run with /etc/ivr/ivr.env as the services do, nothing of the
    operator's own shell."""
    database = tmp_path / "ivr.sqlite3"
    settings = f"DATABASE_URL=sqlite:///{database}\nALERT_EMAILS='Astreinte <a@example.fr>'\n"
    upgraded = ivr_admin(tmp_path, settings, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database schema created, at {HEAD}\n"
    assert database.exists() and not (tmp_path / "not-this.sqlite3").exists()
    refused = ivr_admin(tmp_path, settings, "import", "nothing")
    assert refused.returncode == 2 and "nothing" in refused.stderr  # ivr's own answer, passed on


def test_the_example_copied_unedited_stops_every_command_naming_what_to_set(tmp_path):
    """A public SECRET_KEY, danger calls escalated to a made-up number: an installation never
    runs on the example's values. Only the names are said, never a value."""
    database = tmp_path / "ivr.sqlite3"
    copied = EXAMPLE.read_text() + f"DATABASE_URL=sqlite:///{database}\n"
    stopped = ivr_admin(tmp_path, copied, "db", "upgrade")
    assert stopped.returncode == 2 and stopped.stdout == ""
    assert all(key in stopped.stderr for key in OWN) and "64-random" not in stopped.stderr
    assert not database.exists()  # stopped before anything is migrated (an upgrade's check)
    own = "".join(f"{key}={value}\n" for key, value in OWN.items())
    assert ivr_admin(tmp_path, copied + own, "db", "upgrade").returncode == 0
    assert database.exists()


def test_ivr_admin_stops_at_a_setting_the_shell_cannot_read(tmp_path):
    """An unquoted & would leave DATABASE_URL unset, and ivr on the demo's SQLite file: the
    line is named and ivr is not run."""
    settings = f"LOG_FORMAT=json\nDATABASE_URL=sqlite:///{tmp_path}/a&b.sqlite3\n"
    stopped = ivr_admin(tmp_path, settings, "db", "upgrade")
    said = f"ivr-admin: 2: {tmp_path / 'ivr.env'}: b.sqlite3: not found"
    assert stopped.returncode != 0 and stopped.stderr.startswith(said)
    assert stopped.stdout == "" and list(tmp_path.glob("*.sqlite3")) == []
