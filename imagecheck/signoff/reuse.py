"""Reuse of an earlier nightly's results for an image that did not change (`python -m
imagecheck.nightly --reuse`, `make nightly REUSE=1`).

An image's results are reused when its fingerprint is the same as in an earlier report
under the reports folder: the image ID, the suite (its version and a digest of tests/,
fixtures/probes/, the imagecheck package and pyproject.toml), the image's entry in the
images file (every key, merged over `defaults`), the host (GPUs, driver, Docker engine
version and runtimes) and the run's other pytest arguments (a `-k` or a test path
selects other checks). Only a SIGNED OFF image of a complete run is reused: a blocked one
is validated again. A release run (--require-gpu) never reuses (nightly.py decides).
Every nightly records the fingerprint of each image it validated in report.json, so the
next nightly can reuse it; results carried over keep naming the run that produced them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import docker
import docker.errors

from .. import __version__
from ..config import ImageSpec
from ..runtime import gpu as gpu_runtime
from .model import SIGNED_OFF, ImageReport, ReusedFrom, SignOff

PACKAGE = Path(__file__).resolve().parent.parent
PROJECT = PACKAGE.parent
SUITE_PARTS = ("tests", "fixtures/probes", PACKAGE.name, "pyproject.toml")
# what the fingerprint holds, in the words a message uses when one differs
PARTS = {"image_id": "image ID", "suite": "suite (version and checks)", "promises": "promises in the images file",
         "host": "host (GPUs, driver, engine)", "arguments": "pytest arguments"}
# pytest options that name the images and where their promises are: the fingerprint's own parts
IMAGE_OPTIONS = ("--image", "--images-file")


def _digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def suite_digest(project: Path = PROJECT) -> str:
    """The suite's version and a digest of every file of its checks, probes and package."""
    sha = hashlib.sha256()
    for part in SUITE_PARTS:
        top = project / part
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(project).as_posix()
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            sha.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__} sha256:{sha.hexdigest()}"


def promises(spec: ImageSpec) -> str:
    """A digest of the image's whole entry in the images file (defaults merged in)."""
    return _digest(dataclasses.asdict(spec))


def host_facts(client: docker.DockerClient) -> dict[str, Any]:
    """What of the host decides what the checks see: its GPUs, driver and engine."""
    gpus = gpu_runtime.host_gpus()
    info = client.info()
    return {"gpus": [{"name": g.name, "memory_mib": g.memory_mib, "uuid": g.uuid} for g in gpus],
            "driver": gpus[0].driver if gpus else gpu_runtime.host_driver_version(),
            "engine": client.version().get("Version"), "runtimes": sorted(info.get("Runtimes") or {})}


def other_arguments(pytest_args: list[str]) -> list[str]:
    """The pytest arguments less the images and the images file (the fingerprint's other parts)."""
    kept, skip = [], False
    for arg in pytest_args:
        if skip:
            skip = False
        elif arg in IMAGE_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in IMAGE_OPTIONS)):
            kept.append(arg)
    return kept


def fingerprint(image_id: str | None, suite: str, spec: ImageSpec, host: dict[str, Any],
                arguments: list[str]) -> dict[str, str | None]:
    """An image's fingerprint: equal fingerprints, equal results."""
    return {"image_id": image_id, "suite": suite, "promises": promises(spec), "host": _digest(host),
            "arguments": _digest(arguments)}


def image_id(client: docker.DockerClient, ref: str) -> str | None:
    """The image's ID on the engine; None when it has no such image (the run says why)."""
    try:
        return client.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def differences(mine: dict | None, theirs: dict | None) -> list[str]:
    """What differs between two fingerprints, in words ('image ID', 'host (...)')."""
    if not theirs:
        return ["no fingerprint (a report written before reuse existed, or not by a nightly)"]
    return [words for key, words in PARTS.items() if (mine or {}).get(key) != theirs.get(key)]


class Earlier:
    """An earlier report under the reports folder, read the first time it is asked for
    (most nights every image is found in the newest one); `problem` says why it could not be."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent
        self.problem: str | None = None
        self._signoff: SignOff | None = None

    @property
    def signoff(self) -> SignOff | None:
        if self._signoff is None and self.problem is None:
            try:
                self._signoff = SignOff.from_json(json.loads(self.path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, AttributeError) as error:
                self.problem = f"{self.path}: {error}"
        return self._signoff


def earlier_reports(reports: Path, exclude: Path) -> list[Earlier]:
    """The report.json files under the reports folder, newest first, other than exclude's."""
    paths = [p for p in reports.glob("*/report.json")
             if p.parent.resolve() != exclude.resolve() and not p.parent.is_symlink()]
    return [Earlier(path) for path in sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)]


def find(ref: str, mine: dict, earlier: Iterable[Earlier]) -> tuple[ImageReport | None, Earlier | None, str]:
    """The newest earlier result of the image with the same fingerprint, signed off in a
    complete run, carried over naming the run it came from (the first run that produced
    it, when that report had carried it over itself) and that report; else why not, as
    the newest earlier report of the image says."""
    why = ""
    for report in earlier:
        image = report.signoff.image_named(ref) if report.signoff is not None else None
        if image is None:
            continue
        differ = differences(mine, image.fingerprint)
        if differ:
            reason = f"its {', '.join(differ)} changed since {report.folder.name}" \
                if image.fingerprint else f"the report of {report.folder.name} has {differ[0]}"
        elif report.signoff.run.incomplete:
            reason = f"the run of {report.folder.name} was incomplete"
        elif image.verdict != SIGNED_OFF:
            reason = f"it was {image.verdict} in {report.folder.name}, and only a signed-off result is reused"
        else:
            origin = image.reused_from or ReusedFrom(report.folder.name, str(report.path), report.signoff.generated)
            return dataclasses.replace(image, reused_from=origin), report, ""
        why = why or reason
    return None, None, why or f"no earlier report holds {ref}"


# ---- carrying the reused results into this run's report ---------------------------------------

def record(report: dict, fingerprints: dict[str, dict]) -> list[str]:
    """Each validated image's fingerprint into report.json's data (kept as written
    otherwise), when the image the run judged is the one fingerprinted; a line per image
    that changed while the run went on."""
    changed = []
    for image in report.get("images") or []:
        mine = fingerprints.get(image.get("ref"))
        if mine is None or image.get("reused_from") is not None:
            continue
        judged_id = (image.get("image") or {}).get("id")
        if mine["image_id"] and judged_id == mine["image_id"]:
            image["fingerprint"] = mine
        else:
            changed.append(f"{image.get('ref')}: expected image ID {mine['image_id']} (before the run), observed "
                           f"{judged_id} in the report; no fingerprint recorded, so the next nightly validates it")
    return changed


def carried_over(image: ImageReport, baseline: SignOff | None) -> ImageReport:
    """A reused image judged again in this run, against this run's baseline."""
    from .assemble import judge_with_baseline  # the verdict's module, loaded only when reusing
    from .verdict import DEVELOPMENT

    content = image.content and dataclasses.replace(image.content, package_changes=None, layer_growth=None,
                                                    baseline_size_bytes=None)  # the earlier run's comparison
    fresh = dataclasses.replace(image, regressions=[], baseline_ref=None, content=content)
    return judge_with_baseline(fresh, baseline=baseline, mode=DEVELOPMENT)


def combined(ran: SignOff | None, reused: dict[str, ImageReport], order: list[str], baseline: SignOff | None,
             fallback: SignOff) -> SignOff:
    """This run's sign-off: the images that ran (their report) and the reused ones, in the
    run's order; with nothing run, the run and host are fallback's (nightly.py's)."""
    out = ran if ran is not None else fallback
    carried = {ref: carried_over(image, baseline) for ref, image in reused.items()}
    images = {image.ref: image for image in out.images} | carried
    out.images = [images[ref] for ref in order if ref in images] + \
        [image for ref, image in images.items() if ref not in order]
    return out


def junit_with_reused(path: Path, signoff: SignOff, reused: list[str], suite_name: str) -> None:
    """junit.xml with the reused images' checks as test cases and their verdicts as
    properties, beside what pytest wrote (or alone, when nothing ran)."""
    import xml.etree.ElementTree as ET

    from . import junit as report_junit

    part = dataclasses.replace(signoff, images=[i for i in signoff.images if i.ref in reused], suite_checks=[])
    extra = ET.fromstring(report_junit.render(part)).find("testsuite")
    tree = ET.parse(path) if path.exists() else None
    suite = tree.getroot().find("testsuite") if tree is not None else None
    if suite is None:
        root = ET.Element("testsuites")
        root.append(extra)
        extra.set("name", suite_name)
        tree, suite = ET.ElementTree(root), extra
    else:
        props = suite.find("properties")
        if props is None:
            props = ET.Element("properties")
            suite.insert(0, props)
        for prop in extra.find("properties"):
            if prop.get("name") == "imagecheck.signoff":
                for old in props.findall("property[@name='imagecheck.signoff']"):
                    old.set("value", signoff.verdict)
            else:
                props.append(prop)
        for case in extra.findall("testcase"):
            suite.append(case)
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(int(suite.get(key) or 0) + int(extra.get(key) or 0)))
    props = suite.find("properties")
    for ref in reused:
        origin = signoff.image_named(ref).reused_from
        ET.SubElement(props, "property", name=f"imagecheck.{ref}.reused_from", value=origin.label())
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
