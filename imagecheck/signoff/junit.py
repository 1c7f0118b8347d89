"""The sign-off in JUnit XML: the testsuite properties a run adds to pytest's --junitxml
(suite_properties), and the whole junit.xml of a shard or a merge (render), one testcase
per check with its status, missing requirement and evidence as properties."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from .model import CheckRecord, SignOff
from .verdict import first_line


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def check_properties(check: CheckRecord) -> list[tuple[str, str]]:
    """What a check's record says a machine can merge: status, and what the host lacked."""
    props = [("imagecheck.status", check.status)]
    if check.requirement is not None:
        props.append(("imagecheck.requirement", _text(check.requirement)))
    for result in check.shards or []:
        props.append((f"imagecheck.shard.{result.shard}.status", result.status))
        if result.requirement is not None:
            props.append((f"imagecheck.shard.{result.shard}.requirement", _text(result.requirement)))
    return props


def suite_properties(signoff: SignOff) -> list[tuple[str, str]]:
    """The verdicts, reasons, what was judged, versions and every check's status."""
    props = [("imagecheck.signoff", signoff.verdict)]
    for shard in signoff.shards or []:
        props.append((f"imagecheck.shard.{shard.name}.host", shard.host.label()))
    for image in signoff.images:
        prefix = f"imagecheck.{image.ref}"
        props.append((f"{prefix}.verdict", image.verdict))
        props += [(f"{prefix}.reason.{number}", reason) for number, reason in enumerate(image.reasons, 1)]
        if image.image is not None and image.image.id:
            props.append((f"{prefix}.id", image.image.id))
        props += [(f"{prefix}.digest", digest) for digest in (image.image.repo_digests if image.image else [])]
        props += [(f"{prefix}.{name}", str(value)) for name, value in (image.versions or {}).items()
                  if value is not None]
        content = image.content
        for sbom in content.sbom if content is not None else []:
            props += [(f"{prefix}.sbom.{sbom.format}", sbom.file), (f"{prefix}.sbom.{sbom.format}.sha256", sbom.sha256)]
        props += [(f"{prefix}.package_change.{c.name}", c.summary())
                  for c in ((content.package_changes or []) if content is not None else [])]
        for check in image.checks:
            props.append((f"{prefix}.status.{check.check}", check.status))
            if check.requirement is not None:
                props.append((f"{prefix}.requirement.{check.check}", _text(check.requirement)))
    return props


def _case(check: CheckRecord, ref: str | None) -> ET.Element:
    nodeid = check.nodeid or f"{ref}::{check.check}"
    module, _, name = nodeid.rpartition("::")
    case = ET.Element("testcase", classname=module.removesuffix(".py").replace("/", ".") or "imagecheck",
                      name=name, time=f"{check.duration_s:.3f}")
    props = ET.SubElement(case, "properties")
    for key, value in check_properties(check) + [(k, _text(v)) for k, v in check.evidence.items()]:
        ET.SubElement(props, "property", name=key, value=value)
    if check.outcome in ("failed", "error"):
        tag = "failure" if check.outcome == "failed" else "error"
        ET.SubElement(case, tag, message=first_line(check.message)).text = check.details or check.message
    elif check.outcome in ("skipped", "xfailed"):
        ET.SubElement(case, "skipped", type="pytest.skip", message=first_line(check.message)).text = check.message
    return case


def render(signoff: SignOff) -> str:
    """junit.xml of a shard or a merged sign-off."""
    checks = [(c, image.ref) for image in signoff.images for c in image.checks] + \
        [(c, None) for c in signoff.suite_checks]
    suite = ET.Element("testsuite", name="imagecheck", tests=str(len(checks)),
                       failures=str(sum(c.outcome == "failed" for c, _ in checks)),
                       errors=str(sum(c.outcome == "error" for c, _ in checks)),
                       skipped=str(sum(c.outcome in ("skipped", "xfailed") for c, _ in checks)),
                       time=f"{signoff.run.duration_s}", timestamp=signoff.generated)
    props = ET.SubElement(suite, "properties")
    for name, value in suite_properties(signoff):
        ET.SubElement(props, "property", name=name, value=value)
    for check, ref in checks:
        suite.append(_case(check, ref))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
