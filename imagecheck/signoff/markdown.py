"""report.md: the sign-off report as Markdown (a CI job summary, a release ticket).

Same order as the HTML page: the verdict, regressions, then per image the reasons, the
failed checks with their evidence, skips, versions, image metadata, performance, and
the host. Rendered from report.json's model only.
"""
from __future__ import annotations

import json
from typing import Any

from .html import size_text
from .verdict import SIGNED_OFF


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "–"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> list[str]:
    return ["```text", text.replace("```", "`\u200b``"), "```"]


def _evidence(evidence: dict) -> list[str]:
    if not evidence:
        return ["_no evidence recorded_"]
    lines = ["| evidence | value |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(value)} |" for key, value in evidence.items()]
    return lines


def render(model: dict) -> str:
    summary = model["summary"]
    run = model["run"]
    mark = "✅" if summary["verdict"] == SIGNED_OFF else "⛔"
    out = [f"# {mark} imagecheck sign-off: {summary['verdict']}", "",
           f"{summary['signed_off']} of {summary['images']} image(s) signed off, {summary['blocked']} blocked. "
           f"Mode: {run['mode']}. Generated {model['generated']}.", "",
           "| image | verdict | first reason | passed | failed | skipped | torch | CUDA |",
           "|---|---|---|---|---|---|---|---|"]
    for image in model["images"]:
        counts = image["counts"]
        versions = image.get("versions") or {}
        first = image["reasons"][0] if image["reasons"] else ""
        verdict = f"**{image['verdict']}**"
        out.append(f"| `{image['ref']}` | {verdict} | {_cell(first)} | {counts['passed']} | "
                   f"{counts['failed'] + counts['error']} | {counts['skipped']} | {_cell(versions.get('torch'))} | "
                   f"{_cell(versions.get('cuda'))} |")
    out.append("")
    if run["incomplete"]:
        out += ["**The run is incomplete:**", ""] + [f"- {reason}" for reason in run["incomplete"]] + [""]
    if model.get("baseline"):
        base = model["baseline"]
        out += ["## Regressions against the baseline", "",
                f"Baseline: `{base['path']}` (generated {base.get('generated')}).", ""]
        rows = [(image, r) for image in model["images"] for r in image["regressions"]]
        if rows:
            out += ["| image | kind | what | baseline | now | effect |", "|---|---|---|---|---|---|"]
            out += [f"| `{image['ref']}` | {r['kind']} | {_cell(r['name'])} | {_cell(r['baseline'])} | "
                    f"{_cell(r['current'])} | {r['effect']} |"
                    for image, r in rows]
        else:
            out.append("No regressions.")
        out.append("")
    for image in sorted(model["images"], key=lambda i: i["verdict"] == SIGNED_OFF):  # blocked first
        out += _image(image)
    out += _host(model.get("host") or {}, run)
    return "\n".join(out) + "\n"


def _image(image: dict) -> list[str]:
    out = [f"## {image['ref']}: {image['verdict']}", ""]
    if image["reasons"]:
        out += ["**Why it is blocked:**", ""] + [f"{n}. {r}" for n, r in enumerate(image["reasons"], 1)] + [""]
    if image.get("regressions"):
        out += ["**Regressions:**", ""] + [f"- {r['summary']}" for r in image["regressions"]] + [""]
    if image["notes"]:  # the skips (verdict's own key) are in the table of skipped checks below
        out += ["Notes:", ""] + [f"- {n}" for n in image["notes"]] + [""]
    if image.get("error"):
        out += _fence(image["error"]) + [""]
    failed = [c for c in image["checks"] if c["outcome"] in ("failed", "error", "xpassed")]
    if failed:
        out += ["### Failed checks", ""]
        for check in failed:
            role = "required" if check.get("required") else "advisory"
            out += [f"<details open><summary><b>{check['outcome'].upper()}</b> <code>{check['check']}</code> "
                    f"({role}, {check['duration_s']} s)</summary>", ""]
            out += _fence(check["message"] or check["details"]) + [""] + _evidence(check["evidence"]) + [""]
            out += [f"`{check['nodeid']}`", "", "</details>", ""]
    skipped = [c for c in image["checks"] if c["outcome"] in ("skipped", "xfailed")]
    if skipped:
        out += ["### Skipped checks", "", "| check | reason | seconds | evidence |", "|---|---|---|---|"]
        out += [f"| `{c['check']}` | {_cell(c['message'])} | {c['duration_s']} | {_cell(c['evidence'] or None)} |"
                for c in skipped] + [""]
    passed = [c for c in image["checks"] if c["outcome"] == "passed"]
    if passed:
        out += [f"<details><summary>{len(passed)} passed checks</summary>", "",
                "| check | seconds | evidence |", "|---|---|---|"]
        out += [f"| `{c['check']}` | {c['duration_s']} | {_cell(c['evidence'])} |" for c in passed]
        out += ["", "</details>", ""]
    versions = image.get("versions") or {}
    promised = image.get("promised") or {}
    if versions or promised:
        out += ["### Versions seen inside", "", "| component | seen inside | images.yaml promises |", "|---|---|---|"]
        for key in dict.fromkeys([*versions, *promised]):
            out.append(f"| {key} | {_cell(versions.get(key))} | {_cell(promised.get(key))} |")
        out.append("")
    info = image.get("image") or {}
    if info:
        out += ["### Image", "", "| | |", "|---|---|",
                f"| ID | `{info.get('id')}` |",
                f"| registry digests | {_cell(', '.join(info.get('repo_digests') or []) or 'none (not pushed)')} |",
                f"| size | {size_text(info.get('size_bytes'))} |", f"| created | {_cell(info.get('created'))} |",
                f"| user | {_cell(info.get('user') or 'root')} |", f"| entrypoint | {_cell(info.get('entrypoint'))} |",
                f"| cmd | {_cell(info.get('cmd'))} |"]
        session = image.get("session") or {}
        if session:
            out += [f"| containers started | {_cell(session.get('containers_started'))} |",
                    f"| torch imports in the shared probe container | {_cell(session.get('torch_imports'))} |"]
        out += [f"| label `{k}` | {_cell(v)} |" for k, v in sorted((info.get("labels") or {}).items())] + [""]
    if image.get("perf"):
        out += ["### Performance", "", "| figure | value | better |", "|---|---|---|"]
        out += [f"| `{key}` | {fig['value']:g} {fig['unit']} | {fig['direction']} |"
                for key, fig in sorted(image["perf"].items())] + [""]
    return out


def _host(host: dict, run: dict) -> list[str]:
    gpus = ", ".join(f"{g['index']}: {g['name']}" for g in host.get("gpus") or []) or "none found"
    docker = host.get("docker") or {}
    access = host.get("gpu_access") or {}
    return ["## Host and run", "", "| | |", "|---|---|",
            f"| host | {_cell(host.get('hostname'))} ({_cell(host.get('platform'))}) |",
            f"| GPUs | {_cell(gpus)} |", f"| driver | {_cell(host.get('driver'))} |",
            f"| GPU access | {_cell(access.get('summary'))} |",
            f"| Docker | {_cell(docker.get('version') or docker.get('error'))} |",
            f"| mode | {run['mode']} |", f"| workers | {run['workers'] or 'none (one process)'} |",
            f"| duration | {run['duration_s']} s |", f"| command | `pytest {' '.join(run['args'])}` |", ""]
