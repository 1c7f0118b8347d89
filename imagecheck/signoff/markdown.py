"""report.md: the sign-off report as Markdown (a CI job summary, a release ticket).

Same order as the HTML page: the verdict, regressions, the hosts of a merged sign-off,
then per image the reasons, its checks by host (merged), the failed checks with their
evidence, skips, versions, image metadata, performance, and the host. Rendered from the
sign-off model (model.py) only.
"""
from __future__ import annotations

import html
import json
import re
from typing import Any

from . import matrix
from .content import layers_overview
from ..rules.layers import largest_first
from ..rules.package_diff import tally
from ..rules.sizes import human, signed
from .html import size_text
from .model import FAILING, SHOWN_AS_FAILED, SHOWN_AS_PASSED, SHOWN_AS_SKIPPED, SIGNED_OFF, ImageReport, Run, \
    ShardInfo, SignOff


# Characters Markdown reads as markup anywhere outside code (emphasis, code, links, tables,
# strike-through; HTML's < > & become entities first), and at the start of a line.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\s*)(\d+[.)](?=\s|$)|[-+#](?=\s|$)|>)")


def _text(value: Any) -> str:
    """Text from anywhere (the image's labels, environment and file names, a check's
    message) as Markdown shows it, on one line: never markup, never a table break."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))
    return _LINE_START.sub(_escape_line_start, " ".join(text.split("\n")))


def _escape_line_start(match: re.Match) -> str:
    """A list, heading or quote marker at the start (`- `, `# `, `1. `, `>`) escaped, so the
    text stays text; '2.11.0' is no marker and stays as it is."""
    spaces, mark = match.groups()
    return f"{spaces}{mark[:-1]}\\{mark[-1]}"


def _cell(value: Any) -> str:
    """A table cell: the text, or a dash when there is none."""
    return "–" if value is None or value == "" else _text(value)


def _code(value: Any) -> str:
    """Text in a code span (shown as it is; a backtick inside cannot end the span)."""
    text = " ".join(str(value).split("\n"))
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _fence(text: str) -> list[str]:
    return ["```text", text.replace("```", "`\u200b``"), "```"]


def _evidence(evidence: dict) -> list[str]:
    if not evidence:
        return ["_no evidence recorded_"]
    lines = ["| evidence | value |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(value)} |" for key, value in evidence.items()]
    return lines


def render(signoff: SignOff) -> str:
    summary = signoff.summary
    run = signoff.run
    mark = "✅" if summary["verdict"] == SIGNED_OFF else "⛔"
    merged = f" Merged from {len(signoff.shards)} shard(s)." if signoff.shards else ""
    out = [f"# {mark} imagecheck sign-off: {summary['verdict']}", "",
           f"{summary['signed_off']} of {summary['images']} image(s) signed off, {summary['blocked']} blocked. "
           f"Mode: {run.mode}. Generated {signoff.generated}.{merged}", "",
           "| image | verdict | first reason | passed | failed | skipped | torch | CUDA |",
           "|---|---|---|---|---|---|---|---|"]
    for image in signoff.images:
        counts = image.counts
        versions = image.versions or {}
        first = image.reasons[0] if image.reasons else ""
        verdict = f"**{image.verdict}**"
        out.append(f"| `{image.ref}` | {verdict} | {_cell(first)} | {counts['passed']} | "
                   f"{sum(counts[o] for o in FAILING)} | {counts['skipped']} | {_cell(versions.get('torch'))} | "
                   f"{_cell(versions.get('cuda'))} |")
    out.append("")
    reused = [image for image in signoff.images if image.reused_from]
    if reused:
        out += ["**Results reused from earlier runs** (image ID, suite, promises, host and pytest arguments "
                "unchanged; no check ran for these images in this run):", ""]
        out += [f"- `{image.ref}`: {_text(image.reused_from.label())}, `{image.reused_from.report}`"
                for image in reused] + [""]
    if run.incomplete:
        out += ["**The run is incomplete:**", ""] + [f"- {_text(reason)}" for reason in run.incomplete] + [""]
    if signoff.baseline:
        base = signoff.baseline
        out += ["## Regressions against the baseline", "",
                f"Baseline: `{base.path}` (generated {base.generated}).", ""]
        rows = [(image, r) for image in signoff.images for r in image.regressions]
        if rows:
            out += ["| image | kind | what | baseline | now | effect |", "|---|---|---|---|---|---|"]
            out += [f"| `{image.ref}` | {r.kind} | {_cell(r.name)} | {_cell(r.baseline)} | "
                    f"{_cell(r.current)} | {r.effect} |"
                    for image, r in rows]
        else:
            out.append("No regressions.")
        out.append("")
    if signoff.shards:
        out += _shards(signoff.shards)
    for image in sorted(signoff.images, key=lambda i: i.verdict == SIGNED_OFF):  # blocked first
        out += _image(image, signoff.shards)
    if not signoff.shards:
        out += _host(signoff.host, run)
    else:
        out += [f"Command: `{run.program} {' '.join(run.args)}`", ""]
    return "\n".join(out) + "\n"


def _shards(shards: list[ShardInfo]) -> list[str]:
    out = ["## Hosts (shards merged)", "", "| shard | host | GPU model x count | GPUs granted | driver | "
           "CUDA seen inside | engine |", "|---|---|---|---|---|---|---|"]
    out += [f"| `{s.name}` | {_cell(s.host.hostname)} | {_cell(s.host.gpus)} | {s.host.granted} | "
            f"{_cell(s.host.driver)} | {_cell(s.host.cuda)} | {_cell(s.host.engine)} |" for s in shards]
    return out + [""]


def _matrix(image: ImageReport, shards: list[ShardInfo]) -> list[str]:
    """Checks by host: one column per shard (its name and GPUs), each cell its status."""
    heads = " | ".join(f"{s.name}: {s.host.gpus}" for s in shards)
    out = ["### Checks by host", "", f"| check | merged | {heads} |", "|---|---|" + "---|" * len(shards)]
    for row in matrix.rows(image, shards):
        name = f"`{row.check}`" + ("" if row.required else " (advisory)")
        status = matrix.WORDS.get(row.status, row.status)
        status = f"**{status}**" if row.status in ("failed", "could_not_run") else status
        out.append(f"| {name} | {status} | " + " | ".join(_cell(c.text) for c in row.cells) + " |")
    return out + [""]


def _image(image: ImageReport, shards: list[ShardInfo] | None) -> list[str]:
    out = [f"## {image.ref}: {image.verdict}", ""]
    if image.reasons:
        out += ["**Why it is blocked:**", ""] + [f"{n}. {_text(r)}" for n, r in enumerate(image.reasons, 1)] + [""]
    if image.judged:
        out += [f"Judged: `{image.judged}`", ""]
    if image.reused_from:
        out += [f"Results reused from {_text(image.reused_from.label())}: no check ran for this image in this run.", ""]
    if image.regressions:
        out += ["**Regressions:**", ""] + [f"- {_text(r.summary)}" for r in image.regressions] + [""]
    if image.notes:  # the skips (verdict's own key) are in the table of skipped checks below
        out += ["Notes:", ""] + [f"- {_text(n)}" for n in image.notes] + [""]
    if image.error:
        out += _fence(image.error) + [""]
    if shards:
        out += _matrix(image, shards)
    failed = image.shown(SHOWN_AS_FAILED)
    if failed:
        out += ["### Failed checks", ""]
        for check in failed:
            role = "required" if check.required else "advisory"
            out += [f"<details open><summary><b>{check.outcome.upper()}</b> <code>{html.escape(check.check)}</code> "
                    f"({role}, {check.duration_s} s)</summary>", ""]
            out += _fence(check.message or check.details) + [""] + _evidence(check.evidence) + [""]
            out += [f"`{check.nodeid}`", "", "</details>", ""]
    skipped = image.shown(SHOWN_AS_SKIPPED)
    if skipped:
        out += ["### Skipped checks", "", "| check | reason | seconds | evidence |", "|---|---|---|---|"]
        out += [f"| `{c.check}` | {_cell(c.message)} | {c.duration_s} | {_cell(c.evidence or None)} |"
                for c in skipped] + [""]
    passed = image.shown(SHOWN_AS_PASSED)
    if passed:
        out += [f"<details><summary>{len(passed)} passed checks</summary>", "",
                "| check | seconds | evidence |", "|---|---|---|"]
        out += [f"| `{c.check}` | {c.duration_s} | {_cell(c.evidence)} |" for c in passed]
        out += ["", "</details>", ""]
    out += _content(image)
    versions = image.versions or {}
    promised = image.promised or {}
    if versions or promised:
        out += ["### Versions seen inside", "", "| component | seen inside | images.yaml promises |", "|---|---|---|"]
        for key in dict.fromkeys([*versions, *promised]):
            out.append(f"| {key} | {_cell(versions.get(key))} | {_cell(promised.get(key))} |")
        out.append("")
    info = image.image
    if info is not None:
        out += ["### Image", "", "| | |", "|---|---|",
                f"| ID | `{info.id}` |",
                f"| registry digests | {_cell(', '.join(info.repo_digests) or 'none (not pushed)')} |",
                f"| size | {size_text(info.size_bytes)} |", f"| created | {_cell(info.created)} |",
                f"| user | {_cell(info.user or 'root')} |", f"| entrypoint | {_cell(info.entrypoint)} |",
                f"| cmd | {_cell(info.cmd)} |"]
        if image.session:
            out += [f"| containers started | {_cell(image.session.get('containers_started'))} |",
                    f"| torch imports in the shared probe container | {_cell(image.session.get('torch_imports'))} |"]
        out += [f"| label {_code(k)} | {_cell(v)} |" for k, v in sorted(info.labels.items())] + [""]
    if image.perf:
        host = any(f.shard for f in image.perf.values())
        out += ["### Performance", "", "| figure | value | better |" + (" measured on |" if host else ""),
                "|---|---|---|" + ("---|" if host else "")]
        out += [f"| `{key}` | {fig.value:g} {fig.unit} | {fig.direction} |"
                + (f" {_cell(f'{fig.shard}: {fig.host}')} |" if host else "")
                for key, fig in sorted(image.perf.items())] + [""]
    return out


def _host(host: dict, run: Run) -> list[str]:
    gpus = ", ".join(f"{g['index']}: {g['name']}" for g in host.get("gpus") or []) or "none found"
    docker = host.get("docker") or {}
    access = host.get("gpu_access") or {}
    return ["## Host and run", "", "| | |", "|---|---|",
            f"| host | {_cell(host.get('hostname'))} ({_cell(host.get('platform'))}) |",
            f"| GPUs | {_cell(gpus)} |", f"| driver | {_cell(host.get('driver'))} |",
            f"| GPU access | {_cell(access.get('summary'))} |",
            f"| Docker | {_cell(docker.get('version') or docker.get('error'))} |",
            f"| mode | {run.mode} |", f"| workers | {run.workers or 'none (one process)'} |",
            f"| duration | {run.duration_s} s |", f"| command | `{run.program} {' '.join(run.args)}` |", ""]


def _content(image: ImageReport) -> list[str]:
    """What ships: the SBOM files (linked, with their sha256), the package counts, the
    package diff against the baseline (the GPU stack first), the layers largest first with
    their growth against the baseline's."""
    content = image.content
    if content is None:
        return []
    out = ["### What ships", ""]
    if content.sbom:
        files = ", ".join(f"[`{f.file}`]({f.file}) ({f.format}, sha256 `{f.sha256}`)" for f in content.sbom)
        counts = content.package_counts
        out += [f"SBOM ({_text(content.sbom_tool)}): {files}. "
                f"{counts.get('deb', 0)} Debian and {counts.get('python', 0)} Python packages.", ""]
    if content.note:
        out += [f"Note: {_text(content.note)}", ""]
    out += _package_changes(image)
    out += _layers(image)
    return out


def _package_changes(image: ImageReport) -> list[str]:
    content = image.content
    if content.package_changes is None:
        if image.baseline_ref and content.packages is not None:
            return ["No package diff: the baseline report carries no package list (its run made no SBOM).", ""]
        return []
    changes = content.package_changes
    if not changes:
        return [f"**Packages:** the same Debian and Python packages as `{image.baseline_ref}`.", ""]
    counted = ", ".join(f"{n} {change}" for change, n in tally(changes).items() if n)
    out = [f"**Package changes against `{image.baseline_ref}`** ({counted}; the GPU stack first):", "",
           "| change | package | kind | baseline | now | license |", "|---|---|---|---|---|---|"]
    for change in changes:
        what = change.change + (f" (GPU stack: {change.gpu_stack})" if change.gpu_stack else "")
        what = f"**⚠ {what}**" if change.change == "downgraded" and change.gpu_stack else what
        versions = [_code(v) if v else "–" for v in (change.baseline, change.current)]
        out.append(f"| {what} | {_code(change.name)} | {change.kind} | {versions[0]} | {versions[1]} | "
                   f"{_cell(change.license)} |")
    return out + [""]


def _layers(image: ImageReport) -> list[str]:
    content = image.content
    if not content.layers:
        return []
    total, growth, against = layers_overview(image)
    out = [f"**Layers** (largest first; {human(total)} in {len(content.layers)} layers{against}):", "",
           "| layer | size | growth | build step |", "|---|---|---|---|"]
    for layer in largest_first(content.layers):
        grown = growth.get(layer.index)
        change = "–" if grown is None else ("new" if grown.status == "new" else signed(grown.growth))
        out.append(f"| {layer.index + 1} | {human(layer.size_bytes)} | {change} | {_code(layer.step)} |")
    for gone in [g for g in content.layer_growth or [] if g.status == "removed"]:
        out.append(f"| removed | – | {signed(gone.growth)} | {_code(gone.step)} |")
    return out + [""]
