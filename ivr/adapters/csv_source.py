"""Reading the company's CSV files as they really come: `;` or `,`, UTF-8 or Windows-1252.

A file is read as UTF-8 (with or without BOM) in a single pass; at the first byte that is
not UTF-8, reading stops with `NotUtf8` and the caller starts again with `as_windows_1252()`.
Spreadsheet exports of accented names come in both encodings, sometimes mixed in one file
when someone pasted lines from another export; such lines are named, not silently garbled.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
_HEAD = 1 << 16


class UnreadableFile(Exception):
    """The file cannot be read as a CSV file at all (named in the import report)."""


class NotUtf8(Exception):
    """Reading met a byte that is not UTF-8: read the file again as Windows-1252."""


@dataclass(frozen=True)
class CsvSource:
    """An opened company CSV file: its encoding, delimiter and header."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    # Physical lines that are UTF-8 in a file that is otherwise Windows-1252.
    foreign_lines: list[int] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> CsvSource:
        """The file's header and layout, read from its first bytes."""
        with path.open("rb") as raw:
            head = raw.read(_HEAD)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:4]:
            raise UnreadableFile("encoded in UTF-16 or binary: save it as CSV (UTF-8)")
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        try:
            codecs.getincrementaldecoder(encoding)().decode(head)
        except UnicodeDecodeError:
            encoding = "cp1252"
        with path.open(encoding=encoding, newline="", errors="replace") as text:
            first = next((line for line in text if line.strip()), None)
        if first is None:
            raise UnreadableFile("empty file: no header line")
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=";,").delimiter
        except csv.Error:
            delimiter = ";"
        header = [name.strip().lower() for name in next(csv.reader([first], delimiter=delimiter))]
        source = cls(path, encoding, delimiter, header)
        return source.as_windows_1252() if encoding == "cp1252" else source

    def as_windows_1252(self) -> CsvSource:
        return replace(self, encoding="cp1252", foreign_lines=_utf8_lines(self.path))

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """A `csv.reader` past the header; its `line_num` is the line being read.

        Iterating it raises NotUtf8 where a UTF-8 file turns out not to be. Blank lines are
        the caller's to skip (see `is_blank`): on a million-row file, the test is cheaper
        where a row already failed a check.
        """
        with self.path.open(encoding=self.encoding, newline="") as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                for fields in reader:
                    if not is_blank(fields):
                        break  # the header
                yield reader
            except UnicodeDecodeError:
                raise NotUtf8(str(self.path)) from None


def is_blank(fields: list[str]) -> bool:
    """No field, or nothing but separators and spaces (spreadsheets write ";;;;")."""
    return not any(fields) or not "".join(fields).strip()


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hashlib releases the GIL: fine to run beside a load)."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _utf8_lines(path: Path) -> list[int]:
    """Lines that are non-ASCII and valid UTF-8: in a Windows-1252 file, foreign ones."""
    found = []
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            if not line.isascii():
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                found.append(number)
    return found
