"""Reading the company's CSV files as they really come: `;` or `,`, UTF-8 or Windows-1252.

Spreadsheet exports of accented names come in both encodings, sometimes mixed in one file
when someone pasted lines from another export; such lines are named, not silently garbled.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_CHUNK = 1 << 20


class UnreadableFile(Exception):
    """The file cannot be read as a CSV file at all (named in the import report)."""


@dataclass
class CsvSource:
    """An opened company CSV file: its encoding, delimiter, header, and content hash."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    sha256: str
    # Physical lines that are UTF-8 in a file that is otherwise Windows-1252.
    foreign_lines: list[int] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> CsvSource:
        encoding, sha256, foreign = _detect_encoding(path)
        with path.open(encoding=encoding, newline="") as text:
            first = _first_non_blank(text)
        if first is None:
            raise UnreadableFile("empty file: no header line")
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=";,").delimiter
        except csv.Error:
            delimiter = ";"
        header = [name.strip().lower() for name in next(csv.reader([first], delimiter=delimiter))]
        return cls(path, encoding, delimiter, header, sha256, foreign)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) for every data line; blank lines are skipped."""
        with self.path.open(encoding=self.encoding, newline="") as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            seen_header = False
            for fields in reader:
                if not fields or not any(f.strip() for f in fields):
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                yield reader.line_num, fields


def _first_non_blank(text: Iterator[str]) -> str | None:
    for line in text:
        if line.strip():
            return line
    return None


def _detect_encoding(path: Path) -> tuple[str, str, list[int]]:
    """UTF-8 (with or without BOM) if every byte decodes as such, else Windows-1252.

    One pass over the bytes: it also hashes the file and notes UTF-8 lines, which are only
    a problem when the rest of the file turns out to be Windows-1252.
    """
    digest = hashlib.sha256()
    utf8_lines: list[int] = []
    invalid = False
    with path.open("rb") as raw:
        head = raw.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
            raise UnreadableFile("encoded in UTF-16 or binary: save it as CSV (UTF-8)")
        raw.seek(0)
        for number, line in enumerate(raw, start=1):
            digest.update(line)
            if line.isascii():
                continue
            if b"\x00" in line:
                raise UnreadableFile(f"line {number}: binary data (NUL byte): not a CSV file")
            try:
                line.decode("utf-8")
                utf8_lines.append(number)
            except UnicodeDecodeError:
                invalid = True
    if not invalid:
        with path.open("rb") as raw:
            bom = raw.read(3) == codecs.BOM_UTF8
        return ("utf-8-sig" if bom else "utf-8"), digest.hexdigest(), []
    return "cp1252", digest.hexdigest(), utf8_lines
