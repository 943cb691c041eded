"""Reading one file against its schema: every bad line reported with why, good rows yielded.
Good rows go through a check compiled from the schema (a million of them in a client file);
a row it doubts is explained column by column."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ivr.adapters.csv_source import CsvSource, NotUtf8, UnreadableFile, is_blank
from ivr.domain.characters import forbidden_in
from ivr.domain.phones import InvalidPhoneNumber
from ivr.services import reference_rows as rows
from ivr.services.importing.report import ImportReport, Problem
from ivr.services.reference_rows import PHONE_EXPECTED, Schema, quoted

# What `CsvSource` and the csv module say of a file they cannot read, said in French: the
# report is read by the people who send the files. Matched on how their messages start; one
# not known here is shown as it comes, in parentheses.
_UNREADABLE = {
    "encoded in UTF-16": "fichier en UTF-16 ou binaire : enregistrez-le en CSV (UTF-8)",
    "empty file": "fichier vide : pas de ligne d'en-tête",
}


def _unreadable(problem: str) -> str:
    return next(
        (said for start, said in _UNREADABLE.items() if problem.startswith(start)),
        f"fichier illisible ({problem})",
    )


def _csv_error(error: csv.Error) -> str:
    if str(error).startswith("field larger than field limit"):
        return (
            f"un champ de plus de {csv.field_size_limit()} caractères "
            '(un guillemet " ouvert et jamais refermé ?)'
        )
    return f"erreur de lecture CSV ({error})"


def columns(names: list[str]) -> str:
    """Column names as the report shows them: `« phone », « phone2 »`."""
    return ", ".join(quoted(n) for n in names)


class Checker:
    """Reads one file against its schema, collecting problems, yielding good rows. Problems
    name the file as its sender knows it (`file_name`: an uploaded client file's own name),
    else as the schema does."""

    def __init__(self, report: ImportReport, schema: Schema, file_name: str = "") -> None:
        self.report = report
        self.schema = schema
        self.file_name = file_name or schema.file_name

    def error(self, line: int, reason: str) -> None:
        self.report.errors.append(Problem(self.file_name, line, reason))

    def warn(self, line: int, reason: str) -> None:
        self.report.warnings.append(Problem(self.file_name, line, reason))

    def open(self, path: Path) -> CsvSource | None:
        """The file, if it can be read at all and its header is right; else None, reported."""
        try:
            source = CsvSource.open(path)
        except FileNotFoundError:
            self.error(0, "fichier manquant")
            return None
        except IsADirectoryError:
            self.error(0, "c'est un dossier, pas un fichier")
            return None
        except UnreadableFile as problem:
            self.error(0, _unreadable(str(problem)))
            return None
        return source if self._header_ok(source.header) else None

    def all_rows(self, path: Path) -> list[tuple[Any, ...]]:
        """Every good row of a small file (the directory's)."""
        source = self.open(path)
        if source is None:
            return []
        try:
            return list(self.rows(source))
        except NotUtf8:
            self.restart()
            return list(self.rows(source.as_windows_1252()))

    def restart(self) -> None:
        """Forget what this file's reading reported: it is read again in another encoding."""
        name = self.file_name
        self.report.errors[:] = [p for p in self.report.errors if p.file != name or p.line <= 1]
        self.report.warnings[:] = [p for p in self.report.warnings if p.file != name or p.line <= 1]

    def _header_ok(self, header: list[str]) -> bool:
        duplicates = sorted({n for n in header if header.count(n) > 1 and n})
        missing = [c.name for c in self.schema.columns if c.required and c.name not in header]
        if duplicates:
            self.error(1, f"colonne(s) en double dans l'en-tête : {columns(duplicates)}")
        if missing:
            self.error(
                1,
                f"colonne(s) manquante(s) dans l'en-tête : {columns(missing)} "
                f"(colonnes trouvées : {columns(header)})",
            )
        extra = [n for n in header if n not in self.schema.names]
        if extra:
            self.warn(1, f"colonne(s) inconnue(s), ignorée(s) : {columns(extra)}")
        return not (duplicates or missing)

    def rows(self, source: CsvSource) -> Iterator[tuple[Any, ...]]:
        """Good rows as `(line, value, ...)` in schema order; bad ones go to the report.

        Raises NotUtf8 where a UTF-8 file turns out not to be: see `restart`."""
        foreign = set(source.foreign_lines)
        for line in source.foreign_lines:
            self.error(
                line,
                "cette ligne est en UTF-8 alors que le reste du fichier est en Windows-1252 : "
                "enregistrez tout le fichier dans un seul encodage",
            )
        width = len(source.header)
        positions = [
            source.header.index(c.name) if c.name in source.header else None
            for c in self.schema.columns
        ]
        check = compile_check(self.schema, positions)
        count = 0
        with source.reader() as reader:
            try:
                for fields in reader:
                    line = reader.line_num
                    try:
                        values = check(fields, line) if len(fields) == width else None
                    except (ValueError, NeedsDetail):
                        values = None
                    if values is None or (foreign and line in foreign):
                        if line not in foreign and not is_blank(fields):
                            self._explain(line, fields, width, positions)
                        continue
                    count += 1
                    yield values
            except csv.Error as error:  # a field past the csv module's limit: a quote left open
                self.error(reader.line_num, f"illisible à partir d'ici : {_csv_error(error)}")
                return
        if count == 0 and not self.report.errors:
            self.error(
                0,
                "aucune ligne de données, l'en-tête seul : refusé pour ne pas vider "
                "les données en vigueur",
            )

    def _explain(
        self, line: int, fields: list[str], width: int, positions: list[int | None]
    ) -> None:
        if len(fields) != width:
            self.error(
                line,
                f"{len(fields)} champs alors que l'en-tête en a {width} (un séparateur "
                f"en trop{' ou en moins' if len(fields) < width else ''} ?)",
            )
        else:
            raw = [fields[p].strip() if p is not None else "" for p in positions]
            self.error(line, " ; ".join(self.reasons(raw)))

    def reasons(self, raw: list[str]) -> list[str]:
        """Every reason a row is wrong, column by column (the slow path, for bad rows): the
        column named, then what is wrong with its value."""
        reasons = []
        for column, value in zip(self.schema.columns, raw, strict=True):
            where = f"colonne {quoted(column.name)}"
            if not value:
                if column.required:
                    reasons.append(f"{where} vide : elle est obligatoire")
                continue
            try:
                column.parse(value)
            except InvalidPhoneNumber:
                why = f"{quoted(value)} n'est pas un numéro de téléphone valable ({PHONE_EXPECTED})"
                reasons.append(f"{where} : {why}")
            except ValueError as error:
                reasons.append(f"{where} : {error}")
        return reasons


class NeedsDetail(Exception):
    """A row the fast path will not judge: the slow path names what is wrong."""


def compile_check(schema: Schema, positions: list[int | None]) -> Callable[[list[str], int], Any]:
    """The check of a good row, compiled from the schema into one straight-line function,
    the way `collections.namedtuple` builds its classes: a million-row client file goes
    through it, and a loop over columns costs more than the checks themselves.

    `check(fields, line)` returns `(line, value, ...)` in schema order, or raises at the first
    doubt; the caller then asks `Checker._reasons` for every detail.
    """
    lines, values, texts = [], [], []
    for i, (column, position) in enumerate(zip(schema.columns, positions, strict=True)):
        lines.append(
            f"    v{i} = f[{position}].strip()" if position is not None else f"    v{i} = ''"
        )
        if column.parse is rows.text:
            lines.append(f"    if len(v{i}) > {rows.TEXT_LIMIT}: raise NeedsDetail")
            texts.append(f"v{i}")
            value = f"v{i}"
        else:
            value = f"parse{i}(v{i})"
        if column.required:
            lines.append(f"    if not v{i}: raise NeedsDetail")
            values.append(value)
        else:
            values.append(f"({value} if v{i} else default{i})")
    if texts:  # the free texts' characters, in one search: the other parsers check theirs
        lines.append(f"    if forbidden_in({' + '.join(texts)}): raise NeedsDetail")
    source = (
        "def check(f, line):\n" + "\n".join(lines) + f"\n    return (line, {', '.join(values)})\n"
    )
    scope: dict[str, Any] = {"NeedsDetail": NeedsDetail, "forbidden_in": forbidden_in}
    for i, column in enumerate(schema.columns):
        scope[f"parse{i}"], scope[f"default{i}"] = column.parse, column.default
    exec(source, scope)  # noqa: S102 - source built above from our own schema
    check: Callable[[list[str], int], Any] = scope["check"]
    return check
