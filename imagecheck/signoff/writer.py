"""Writes a sign-off into a folder: report.html, report.md, report.json, and for a shard or
a merge junit.xml; each file replaced atomically (a reader never sees half a file). A
merge also brings the SBOM files its reports link from the shards' folders
(copy_sboms)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
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
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        finally:  # a full disk leaves the earlier file, never a half-written one beside it
            tmp.unlink(missing_ok=True)
        written.append(path)
    return written


def copy_sboms(signoff: SignOff, folder: Path, sources: list[Path]) -> None:
    """Copy each SBOM the sign-off links into folder, from the first source folder that
    holds it with the recorded sha256; an image whose SBOM is nowhere says so in its note."""
    for image in signoff.images:
        content = image.content
        for sbom in content.sbom if content is not None else []:
            origin = next((source / sbom.file for source in sources if _holds(source / sbom.file, sbom.sha256)), None)
            if origin is None:
                content.note = (content.note + "; " if content.note else "") + \
                    f"{sbom.file} was not found with its recorded sha256 in the folders merged"
                continue
            target = folder / sbom.file
            if origin.resolve() != target.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(origin, target)


def _holds(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False
