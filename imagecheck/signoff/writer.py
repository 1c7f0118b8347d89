"""Writes a sign-off into a folder: report.html, report.md, report.json, and for a shard or
a merge junit.xml; each file replaced atomically (a reader never sees half a file)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import html as report_html
from . import junit as report_junit
from . import markdown as report_md
from .model import SignOff

FILES = ("report.html", "report.md", "report.json")
JUNIT = "junit.xml"


def contents(signoff: SignOff, *, junit: bool = False) -> dict[str, str]:
    """Each file's text, rendered from the one model."""
    out = {"report.json": json.dumps(signoff.to_json(), indent=2, default=str) + "\n",
           "report.html": report_html.render(signoff), "report.md": report_md.render(signoff)}
    if junit:
        out[JUNIT] = report_junit.render(signoff)
    return out


def write(signoff: SignOff, folder: Path, *, junit: bool = False) -> list[Path]:
    """Write the files into folder (made when missing); OSError when it cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in contents(signoff, junit=junit).items():
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
