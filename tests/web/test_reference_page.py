"""The Référentiel page as an administrator reads it: the on-call windows in words and with a
legend, the managers' planning with who is on duty now, the hours left without cover, and the
client files sent, named as sent, refused when they would remove many clients unless
confirmed."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import select

from ivr.adapters.orm import ImportRecord
from ivr.adapters.repository import client_count
from ivr.composition import worker_of
from ivr.services.accounts import add_user
from tests.conftest import DEMO, log_in

EMAIL, PASSWORD = "admin@example.fr", "a long enough password"
CODES = ("individual", "collective", "boiler_room", "all")


@pytest.fixture
def admin(demo, clock):
    add_user(demo, clock, EMAIL, PASSWORD, "admin")


def logged_in(app):
    """A test client logged in as the administrator, and its CSRF token."""
    return log_in(app, EMAIL, PASSWORD)


def reference_page(make_app, at: str = "2026-12-22T23:00") -> str:
    client, _ = logged_in(make_app(at=at, WTF_CSRF_ENABLED=True))
    return client.get("/reference").get_data(as_text=True)


def words(html: str) -> str:
    """What a reader sees: the text, without tags and their attributes (classes, titles)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def agency_section(page: str, cia: str) -> str:
    sections = page.split('<section class="agency-week"')[1:]
    return next(s.split("</section>")[0] for s in sections if f"{cia} " in s.split("</h3>")[0])


def section(page: str, element_id: str) -> str:
    return page.split(f'id="{element_id}"', 1)[1].split("</section>", 1)[0]


# --- The on-call windows ---------------------------------------------------------------------


def test_the_windows_have_a_legend_with_names_and_are_said_in_words(admin, make_app):
    page = reference_page(make_app)
    legend = page.split('id="legend-title"', 1)[1].split("</ul>", 1)[0]
    for code, name in [
        ("all", "tous contrats"),
        ("individual", "particuliers 7/7"),
        ("collective", "collectifs"),
        ("boiler_room", "chaufferies"),
    ]:
        assert re.search(rf'class="bar swatch {code}"[^>]*></span> {name}</li>', legend), code
    paris = agency_section(page, "0751")
    assert 'title="tous contrats, 18:00–08:00"' in paris  # the bar says what it is
    assert "tous contrats : lun.–ven. de 18:00 à 08:00 le lendemain" in paris
    metz = words(agency_section(page, "5701"))
    assert "chaufferies : sam., dim., jours fériés toute la journée" in metz
    assert 'title="chaufferies, toute la journée"' in agency_section(page, "5701")
    assert "(chaufferies, Astreinte Metz chaufferies - principal)" in metz
    assert "1. 06 39 98 01 01 (tous contrats" in words(paris)  # as every page shows a number
    assert "+33" not in words(paris)


def test_no_on_call_type_or_contract_is_shown_by_its_code(admin, make_app):
    client, _ = logged_in(make_app(WTF_CSRF_ENABLED=True))
    page = client.get("/reference").get_data(as_text=True)
    found = client.get("/reference?q=Syndic").get_data(as_text=True)
    assert "Type de contrat</th>" in found and '"Type de contrat">collectif</td>' in found
    for text in (words(page), words(found)):
        for code in (*CODES, "individual_7_7"):
            assert not re.search(rf"\b{code}\b", text), code


def test_hours_left_without_cover_are_warned_under_the_agency(admin, make_app):
    page = reference_page(make_app)
    summary = words(page.split('id="coverage-gaps"', 1)[1].split("</p>", 1)[0])
    assert "5701 Metz" in summary and "0751" not in summary
    metz = words(agency_section(page, "5701"))
    assert "Heures sans astreinte" in metz
    assert (
        "collectifs et chaufferies : lun. de 00:00 à 08:00 ; personne n’est appelé, "
        "la fiche est faxée à l’agence"
    ) in metz
    assert "Heures sans astreinte" not in agency_section(page, "0751")


# --- The managers' planning -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "on_duty", "not_on_duty"),
    [
        ("2026-12-22T23:00", "Claire Lefèvre", "Thomas Nguyen"),
        ("2026-12-26T10:00", "Thomas Nguyen", "Claire Lefèvre"),
    ],
)
def test_the_planning_has_headers_and_says_who_is_on_duty_now(
    admin, make_app, at, on_duty, not_on_duty
):
    page = reference_page(make_app, at)
    idf = page.split("<h3>Direction régionale Île-de-France", 1)[1].split("</table>", 1)[0]
    headers = re.findall(r'<th scope="col">([^<]+)</th>', idf)
    assert headers == ["Cadre", "Téléphone", "Début", "Fin"]
    assert f"De garde maintenant : <strong>{on_duty}" in idf
    current = re.findall(r'<tr class="now" aria-current="true">(.*?)</tr>', idf)
    assert len(current) == 1
    assert f"{on_duty} — de garde maintenant" in current[0]
    assert f"{not_on_duty} — de garde maintenant" not in idf


def test_a_region_with_nobody_on_duty_now_says_so(admin, make_app):
    page = reference_page(make_app, "2028-02-01T12:00")  # past the demo's planning
    assert words(page).count("Personne de garde maintenant dans cette région") == 2


# --- Files sent ------------------------------------------------------------------------------


def client_file(rows: int) -> bytes:
    """The demo's client file cut to its first `rows` clients."""
    lines = (DEMO / "clients.csv").read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[: rows + 1]).encode()


def send(client, token: str, kind: str, content: bytes, name: str, **form: str):
    data = {"csrf_token": token, "kind": kind, "file": (io.BytesIO(content), name), **form}
    return client.post("/reference", data=data, follow_redirects=True).get_data(as_text=True)


def test_the_confirmation_box_has_its_label_and_says_what_it_does(admin, make_app):
    page = reference_page(make_app)
    assert re.search(
        r'<label><input type="checkbox" name="allow_shrink" value="yes" '
        r'aria-describedby="shrink-help"> J&#39;accepte que le fichier retire plus de 10 % des '
        r"clients</label>",
        page,
    )
    assert 'id="shrink-help"' in page


def test_a_file_removing_many_clients_is_refused_until_the_box_is_ticked(admin, make_app, demo):
    app = make_app(WTF_CSRF_ENABLED=True)
    client, token = logged_in(app)
    send(client, token, "clients", client_file(5), "clients-semaine-52.csv")
    assert worker_of(app).run_due() >= 1
    page = client.get("/reference").get_data(as_text=True)
    report = words(section(page, "clients-report")).replace("&#39;", "'")
    assert "(clients-semaine-52.csv," in report and "refusé, rien n’a changé" in report
    assert "Ce fichier retirerait plus de 10 % des clients en vigueur" in report
    assert "retirerait 46 des 51 clients en vigueur (90 %)" in report
    assert (
        "en cochant la case « J'accepte que le fichier retire plus de 10 % des clients »" in report
    )
    with demo.snapshot() as session:
        assert client_count(session) == 51

    sent = send(
        client, token, "clients", client_file(5), "clients-semaine-52.csv", allow_shrink="yes"
    )
    assert "importé en arrière-plan, même s’il retire plus de 10 % des clients" in sent
    assert worker_of(app).run_due() >= 1
    page = client.get("/reference").get_data(as_text=True)
    report = words(section(page, "clients-report"))
    assert "accepté" in report and "Ce fichier retirerait" not in report
    assert "retire 46 des 51 clients en vigueur (90 %), comme confirmé" in report
    with demo.snapshot() as session:
        assert client_count(session) == 5


def test_reports_name_the_files_as_sent_never_where_the_server_kept_them(
    admin, make_app, demo, settings
):
    app = make_app(WTF_CSRF_ENABLED=True)
    client, token = logged_in(app)
    bad = client_file(2).replace(b";individual_7_7;", b";gold;", 1)
    send(client, token, "clients", bad, "../exports/clients-semaine-52.csv")
    worker_of(app).run_due()
    page = client.get("/reference").get_data(as_text=True)
    report = section(page, "clients-report")
    assert "erreur : clients-semaine-52.csv, ligne 2 : colonne « contract » : « gold »" in report
    assert "exports" not in report and str(settings.UPLOAD_FOLDER) not in report

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for path in DEMO.glob("*.csv"):
            if path.name != "clients.csv":
                archive.writestr(f"annuaire/{path.name}", path.read_bytes())
    page = send(client, token, "directory", packed.getvalue(), "annuaire-decembre.zip")
    report = section(page, "report")
    assert "Import accepté — annuaire annuaire-decembre.zip" in report
    assert "Import de l&#39;annuaire accepté depuis annuaire-decembre.zip : 244 lignes" in report
    assert "agencies.csv : 0 ajouté, 0 modifié, 0 retiré" in report  # the demo is in force
    assert "/tmp" not in report and "unpacked" not in report
    with demo.snapshot() as session:
        names = session.scalars(select(ImportRecord.file_name).order_by(ImportRecord.id)).all()
    assert names[-2:] == ["clients-semaine-52.csv", "annuaire-decembre.zip"]
