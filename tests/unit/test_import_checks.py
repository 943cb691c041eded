"""The importer judges a million rows with a check compiled from the schema (the fast path),
and explains a row it doubts column by column (the slow path). On any row, the two agree:
a row the fast path keeps has nothing wrong with it, and the values it keeps are the columns'
own; a row it refuses is always explained, each reason naming its column."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.services import reference_rows as rows
from ivr.services.importing.checking import Checker, NeedsDetail, compile_check
from ivr.services.importing.report import ImportReport

# Values each column takes in real files, right or nearly right; junk is drawn beside them.
PLAUSIBLE = {
    "client_id": ["12345678", "123456", "1234567890123", "12 345 678"],
    "postcode": ["75011", "7501", "2A004"],
    "phone": ["0612345678", "+33612345678", "06 12 34 56 78", "0612"],
    "equipment": ["gas_boiler", "GAS_BOILER", "heat pump"],
    "contract": ["collective", "individual_7_7", "gold"],
    "delay_hours": ["4", "1,5", "0", "-2", "800"],
    "valid_until": ["2027-01-31", "2027-02-30", "31/01/2027"],
    "email": ["agence@example.fr", "agence", "a b@c.fr"],
    "department": ["57", "2a", "975", "99"],
    "live_from": ["2027-01-04", "2027-13-01"],
    "oncall_type": ["all", "individual", "everyone"],
    "days": ["mon,tue", "sat, sun, holiday", "monday", ","],
    "start": ["08:00", "8:00", "24:00", "2026-12-24T18:00"],
    "end": ["18:30", "23:59", "2026-12-25T08:00+01:00", "tomorrow"],
    "priority": ["1", "2", "0", "one"],
}
PLAUSIBLE["phone2"] = PLAUSIBLE["fax"] = PLAUSIBLE["mobile"] = PLAUSIBLE["phone"]
PLAUSIBLE["legacy_number"] = PLAUSIBLE["phone"]
WORDS = ["Dupont", "Chaufferie Nord", "0751", "", "  "]
SCHEMAS = (rows.CLIENTS, *rows.DIRECTORY)


def cell(name: str) -> st.SearchStrategy[str]:
    values = st.sampled_from(PLAUSIBLE.get(name, WORDS))
    padded = values.map(lambda v: f" {v} ")
    junk = st.text(max_size=12) | st.text(min_size=rows.TEXT_LIMIT + 1, max_size=210)
    return st.one_of(values, values, padded, st.just(""), junk)


@st.composite
def schema_and_row(draw: st.DrawFn) -> tuple[rows.Schema, list[str]]:
    schema = draw(st.sampled_from(SCHEMAS))
    return schema, [draw(cell(column.name)) for column in schema.columns]


@settings(max_examples=600, deadline=None)
@given(schema_and_row())
def test_the_fast_and_the_slow_checks_agree(drawn: tuple[rows.Schema, list[str]]) -> None:
    schema, fields = drawn
    fast = compile_check(schema, list(range(len(schema.columns))))
    try:
        kept = fast(fields, 7)
    except (ValueError, NeedsDetail):
        kept = None
    raw = [field.strip() for field in fields]
    reasons = Checker(ImportReport(schema.file_name, "test"), schema).reasons(raw)
    assert (kept is not None) == (not reasons), (raw, reasons)
    names = {f"colonne « {column.name} »" for column in schema.columns}
    assert all(reason.split(" : ")[0].removesuffix(" vide") in names for reason in reasons)
    if kept is not None:
        own = tuple(
            column.parse(value) if value else column.default
            for column, value in zip(schema.columns, raw, strict=True)
        )
        assert kept == (7, *own)
