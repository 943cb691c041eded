"""How long each prompt takes to say: every default of `config/prompts.toml` but the text
messages, its placeholders filled with a demo request's values, spoken by a French
text-to-speech voice (`espeak-ng -v fr`, 175 words a minute) to a WAV file whose length `soxi`
measures.

Production speaks with Twilio's neural voice, a little slower than espeak-ng; the figures are a
guide to what a caller waits through, and a way to hear the words: `--keep DIR` leaves the WAV
files there.

    .venv/bin/python bench/prompt_lengths.py              # a table, in the order of the file
    .venv/bin/python bench/prompt_lengths.py --longest 10 # the ten longest
    .venv/bin/python bench/prompt_lengths.py --keep /tmp/prompts

Needs the Debian packages espeak-ng and sox.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ivr.adapters.prompt_store import default_prompts
from ivr.services.prompt_editing import EXAMPLES  # the back office's Listen uses the same


def seconds(text: str, wav: Path) -> float:
    subprocess.run(["espeak-ng", "-v", "fr", "-w", str(wav), text], check=True)
    length = subprocess.run(["soxi", "-D", str(wav)], check=True, capture_output=True, text=True)
    return float(length.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--longest", type=int, help="only the N longest, longest first")
    parser.add_argument("--keep", type=Path, help="leave the WAV files in this folder")
    args = parser.parse_args()
    if not (shutil.which("espeak-ng") and shutil.which("soxi")):
        print("needs espeak-ng and sox (apt-get install espeak-ng sox)", file=sys.stderr)
        return 1
    prompts = default_prompts()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="prompts-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in prompts.defaults:
        if name.startswith("sms_"):
            continue  # text messages: read, not heard
        text = prompts.text(name, EXAMPLES)
        words = len(re.findall(r"\w[\w'-]*", text))
        rows.append((name, words, seconds(text, folder / f"{name}.wav"), text))
    if args.longest:
        rows = sorted(rows, key=lambda row: row[2], reverse=True)[: args.longest]
    print("| prompt | words | seconds (espeak-ng) |")
    print("| --- | ---: | ---: |")
    for name, words, length, _ in rows:
        print(f"| `{name}` | {words} | {length:.1f} |")
    if not args.keep:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
