"""The project stands on its own: a user's clone holds this folder and nothing beside it.

No file of the project may point at documents kept outside it (a folder beside the project,
or the names of the specification files the project was first written from): the project's
own account of them is docs/procedure.md, docs/formats.md and docs/contract.md. Every
relative link of a Markdown file leads to a file of the project.

The files checked are those git knows (tracked, or new and not ignored), so a document just
written is checked before it is committed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEXT_SUFFIXES = {".md", ".py", ".html", ".toml", ".cfg", ".ini", ".txt"}

# What points outside the project. The names are spelt in pieces so that this file, which is
# checked too, does not name them.
OUTSIDE = re.compile(
    "|".join(
        (
            r"\.\./+" + "shared",  # the folder beside the project, by a relative path
            r"\b" + "shared/(?:spec|seed)" + r"\b",  # the same folder by another path
            r"\b(?:PROCEDURE|FORMATS|CONTRACT)" + r"\.md\b",  # the files in it, by name
        )
    )
)

INSTEAD = "points outside the project (use docs/procedure.md, formats.md, contract.md):\n"

# A Markdown link or image: [text](target) or [text](<target> "title").
LINK = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)

# Folders never part of a clone, for a copy of the project that is not a git work tree.
NOT_THE_PROJECT = {".git", ".venv", "var", "node_modules", "__pycache__"}


def _project_files() -> list[Path]:
    """The project's files, relative to ROOT: what git knows, else what is on disk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return sorted(_walk())
    return sorted({Path(name) for name in listed.split("\0") if name})


def _walk() -> Iterator[Path]:
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        parts = relative.parts
        hidden = any(p.startswith(".") and p != ".ci" for p in parts[:-1])
        ignored = any(p in NOT_THE_PROJECT or p.endswith(".egg-info") for p in parts)
        if path.is_file() and not hidden and not ignored:
            yield relative


def _is_text(relative: Path) -> bool:
    return (
        relative.suffix in TEXT_SUFFIXES
        or relative.name == "Makefile"
        or relative.parts[0] == ".ci"
    )


def _text_files(python: bool) -> list[Path]:
    return [
        relative
        for relative in _project_files()
        if _is_text(relative)
        and (relative.suffix == ".py") == python
        and (ROOT / relative).is_file()
    ]


def _lines(relative: Path) -> Iterator[tuple[int, str]]:
    text = (ROOT / relative).read_text(encoding="utf-8", errors="replace")
    yield from enumerate(text.splitlines(), start=1)


def _pointing_outside(files: list[Path]) -> list[str]:
    return [
        f"{relative}:{number}: {line.strip()}"
        for relative in files
        for number, line in _lines(relative)
        if OUTSIDE.search(line)
    ]


def test_the_files_are_found():
    files = _text_files(python=False)
    assert Path("README.md") in files
    assert Path("docs/procedure.md") in files
    assert Path("Makefile") in files
    assert Path("tests/test_self_contained.py") in _text_files(python=True)


def test_no_document_or_build_file_points_outside_the_project():
    """Markdown, templates, configuration, the Makefile and the CI script."""
    found = _pointing_outside(_text_files(python=False))
    assert not found, INSTEAD + "\n".join(found)


def test_no_python_file_points_outside_the_project():
    """Code, comments and docstrings: "docs/procedure.md §5.2", not the outside files."""
    found = _pointing_outside(_text_files(python=True))
    assert not found, INSTEAD + "\n".join(found)


def test_markdown_links_lead_to_files_of_the_project():
    broken = []
    for relative in _text_files(python=False):
        if relative.suffix != ".md":
            continue
        in_code = False
        for number, line in _lines(relative):
            if line.lstrip().startswith("```"):
                in_code = not in_code
            if in_code:
                continue
            for match in LINK.finditer(line):
                target = match[1].strip("<>")
                if EXTERNAL.match(target):
                    continue
                path = target.split("#", 1)[0].split("?", 1)[0]
                resolved = (ROOT / relative.parent / path).resolve()
                if not resolved.is_relative_to(ROOT) or not resolved.exists():
                    broken.append(f"{relative}:{number}: {target}")
    assert not broken, "links to nothing in the project:\n" + "\n".join(broken)
