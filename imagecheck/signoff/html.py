"""report.html: the sign-off report as one self-contained page (no external assets).

Read at a glance: the verdict banner first (green SIGNED OFF, red BLOCKED), the image
table, regressions against the baseline, then per image its reasons, its failed checks
expanded with their evidence and container logs, skips, passed checks (collapsed),
versions, image metadata and performance, a small inline SVG chart of the compile
speedups, and the host (a merged sign-off: the hosts of its shards, and per image a
matrix of checks by host). Rendered from the sign-off model (model.py) only.
"""
from __future__ import annotations

import html
import json
from typing import Any

from ..rules.layers import largest_first
from ..rules.package_diff import tally
from ..rules.sizes import human, signed
from . import matrix
from .content import layers_overview
from .model import FAILING, SHOWN_AS_FAILED, SHOWN_AS_PASSED, SHOWN_AS_SKIPPED, SIGNED_OFF, CheckRecord, ImageReport, \
    Regression, Run, ShardInfo, SignOff

PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#0d9488", "#db2777", "#65a30d")

CSS = """
:root { --ok: #15803d; --ok-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --skip: #92400e;
        --skip-bg: #fef3c7; --ink: #111827; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
main { padding: 0 24px 40px; max-width: 1200px; }
.banner { padding: 18px 24px; color: #fff; display: flex; align-items: baseline; gap: 20px; flex-wrap: wrap; }
.banner.signed-off { background: var(--ok); }
.banner.blocked { background: var(--bad); }
.banner .word { font-size: 34px; font-weight: 800; letter-spacing: .5px; }
.banner .sub { font-size: 15px; opacity: .95; }
h2 { margin: 28px 0 10px; font-size: 20px; }
h3 { margin: 18px 0 8px; font-size: 16px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
.grid table, table.evidence, table.checks { table-layout: fixed; width: 100%; }
.grid td, .grid th, table.evidence td, table.checks td { overflow-wrap: anywhere; }
table.evidence td:first-child, table.evidence th:first-child { width: 30%; }
td.ref { white-space: nowrap; }
h2 code { font-size: inherit; }
th { background: #f9fafb; font-weight: 600; }
tr.row-blocked td:first-child { border-left: 5px solid var(--bad); }
tr.row-signed-off td:first-child { border-left: 5px solid var(--ok); }
.badge { white-space: nowrap; display: inline-block; padding: 1px 8px; border-radius: 4px; font-weight: 700; font-size: 12px; }
.badge.signed-off, .badge.passed { background: var(--ok-bg); color: var(--ok); }
.badge.blocked, .badge.failed, .badge.error, .badge.xpassed { background: var(--bad-bg); color: var(--bad); }
.badge.skipped, .badge.xfailed, .badge.could_not_run { background: var(--skip-bg); color: var(--skip); }
.badge.not_applicable, .badge.not-selected { background: #f3f4f6; color: #6b7280; }
table.matrix .badge { white-space: normal; }
.badge.advisory { background: #e5e7eb; color: #374151; }
ol.reasons { background: var(--bad-bg); border-left: 5px solid var(--bad); padding: 10px 10px 10px 34px; margin: 8px 0; }
ol.reasons li { margin: 3px 0; }
ul.notes { color: #374151; }
.ok-line { background: var(--ok-bg); border-left: 5px solid var(--ok); padding: 8px 12px; }
details.check { border: 1px solid var(--line); border-left: 5px solid var(--bad); margin: 8px 0; padding: 4px 10px; }
details.check > summary { cursor: pointer; padding: 4px 0; }
details.check .msg { color: var(--bad); }
pre { background: #f3f4f6; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-word;
      margin: 6px 0; font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.message { background: var(--bad-bg); }
table.evidence td:first-child, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
table.evidence pre { margin: 0; }
.muted { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 0 24px; }
section.image { border-top: 2px solid var(--line); margin-top: 24px; }
svg text { font: 12px system-ui, sans-serif; }
tr.gpu-downgrade td { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
footer { color: var(--muted); padding: 16px 24px; border-top: 1px solid var(--line); }
"""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _slug(verdict: str) -> str:
    return "signed-off" if verdict == SIGNED_OFF else "blocked"


def _value(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value) and len(str(value)) < 120:
        return f"<code>{e(json.dumps(value))}</code>"
    if isinstance(value, (dict, list)):
        return f"<pre>{e(json.dumps(value, indent=2, sort_keys=True))}</pre>"
    return e(value if value is not None else "–")


def _evidence(evidence: dict) -> str:
    if not evidence:
        return '<p class="muted">no evidence recorded</p>'
    rows = "".join(f"<tr><td>{e(k)}</td><td>{_value(v)}</td></tr>" for k, v in evidence.items())
    return f'<table class="evidence"><thead><tr><th>evidence</th><th>observed</th></tr></thead><tbody>{rows}</tbody></table>'


def size_text(size: Any) -> str:
    """An image size in bytes as the reports show it ('6.35 GB'), '–' when unknown."""
    return f"{size / 1e9:.2f} GB" if isinstance(size, (int, float)) else "–"


def render(signoff: SignOff) -> str:
    summary = signoff.summary
    run = signoff.run
    verdict = summary["verdict"]
    sub = (f"{summary['signed_off']} of {summary['images']} image(s) signed off · {summary['blocked']} blocked · "
           f"{run.mode} run · {e(signoff.generated)}")
    if signoff.shards:
        sub += f" · merged from {len(signoff.shards)} shard(s)"
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>imagecheck sign-off: {e(verdict)}</title><style>{CSS}</style></head><body>",
        f'<header id="verdict" class="banner {_slug(verdict)}" data-verdict="{e(verdict)}">'
        f'<span class="word">{e(verdict)}</span><span class="sub">{sub}</span></header>',
        "<main>", _image_table(signoff), _reused(signoff), _incomplete(run), _regressions(signoff),
        _shards(signoff.shards) if signoff.shards else "",
    ]
    numbered = list(enumerate(signoff.images, 1))  # blocked images first: what needs a reader's eyes
    parts += [_image(index, image, signoff.shards) for index, image in
              sorted(numbered, key=lambda p: p[1].verdict == SIGNED_OFF)]
    parts += [_performance(signoff), "" if signoff.shards else _host(signoff.host, run), "</main>",
              f'<footer>imagecheck {e(signoff.tool.get("version"))} · report schema {e(signoff.schema)} · '
              f'command: <code>{e(run.program)} {e(" ".join(run.args))}</code></footer>', "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"


def _image_table(signoff: SignOff) -> str:
    rows = []
    for index, image in enumerate(signoff.images, 1):
        counts = image.counts
        versions = image.versions or {}
        info = image.image
        reasons = image.reasons
        why = e(reasons[0]) + (f' <span class="muted">(+{len(reasons) - 1} more)</span>' if len(reasons) > 1 else "") \
            if reasons else f'<span class="muted">{e(image.all_clear())}</span>'
        failed = sum(counts[o] for o in FAILING)
        tally = (f'<span class="badge passed">{counts["passed"]} passed</span> '
                 + (f'<span class="badge failed">{failed} failed</span> ' if failed else "")
                 + (f'<span class="badge skipped">{counts["skipped"]} skipped</span>' if counts["skipped"] else ""))
        rows.append(
            f'<tr class="row-{_slug(image.verdict)}" data-ref="{e(image.ref)}">'
            f'<td class="ref"><a href="#image-{index}"><code>{e(image.ref)}</code></a></td>'
            f'<td><span class="badge {_slug(image.verdict)}">{e(image.verdict)}</span></td>'
            f"<td>{why}</td><td>{tally}</td><td>{e(versions.get('torch') or '–')}</td>"
            f"<td>{e(versions.get('cuda') or '–')}</td>"
            f"<td><code>{e(((info.id if info else None) or '–')[:19])}</code></td>"
            f"<td>{size_text(info.size_bytes if info else None)}</td></tr>")
    return ('<section id="images"><h2>Images</h2><table id="image-table"><thead><tr><th>image</th><th>verdict</th>'
            "<th>why</th><th>checks</th><th>torch</th><th>CUDA</th><th>image ID</th><th>size</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _reused(signoff: SignOff) -> str:
    """The images whose results come from an earlier run (a nightly with --reuse)."""
    items = "".join(f'<li data-ref="{e(i.ref)}"><code>{e(i.ref)}</code>: {e(i.reused_from.label())}, '
                    f"<code>{e(i.reused_from.report)}</code></li>" for i in signoff.images if i.reused_from)
    if not items:
        return ""
    return ('<section id="reused"><h2>Results reused from earlier runs</h2><p class="muted">The image ID, the suite, '
            "the promises, the host and the pytest arguments are unchanged: no check ran for these images in this "
            f"run.</p><ul>{items}</ul></section>")


def _incomplete(run: Run) -> str:
    if not run.incomplete and not run.collection_errors:
        return ""
    items = "".join(f"<li>{e(r)}</li>" for r in run.incomplete)
    errors = "".join(f"<details><summary>collection error: <code>{e(c.nodeid)}</code></summary>"
                     f"<pre>{e(c.message)}</pre></details>" for c in run.collection_errors)
    return f'<section id="incomplete"><h2>The run is incomplete</h2><ol class="reasons">{items}</ol>{errors}</section>'


def _change(regression: Regression) -> str:
    if regression.drop is not None:
        return f"{regression.drop:.0%} worse (allowed {regression.threshold:.0%})"
    return regression.change or ""


def _regressions(signoff: SignOff) -> str:
    base = signoff.baseline
    if not base:
        return ""
    rows = []
    for image in signoff.images:
        for r in image.regressions:
            cls = "failed" if (r.effect or "").startswith("blocks") else "skipped"
            rows.append(f'<tr class="regression" data-kind="{e(r.kind)}"><td><code>{e(image.ref)}</code></td>'
                        f'<td><span class="badge {cls}">{e(r.kind.replace("_", " "))}</span></td>'
                        f'<td><code>{e(r.name)}</code></td><td>{e(r.baseline)}</td><td>{e(r.current)}</td>'
                        f'<td>{e(_change(r))}</td>'
                        f'<td>{e(r.effect)}</td></tr>')
    body = ("<table><thead><tr><th>image</th><th>kind</th><th>what</th><th>baseline</th><th>now</th>"
            f"<th>change</th><th>effect</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            if rows else '<p class="ok-line">No regressions against the baseline.</p>')
    compared = ", ".join(f"{i.ref} with {i.baseline_ref}" for i in signoff.images if i.baseline_ref)
    return (f'<section id="regressions"><h2>Regressions against the baseline</h2>'
            f'<p class="muted">Baseline <code>{e(base.path)}</code>, generated {e(base.generated)}; '
            f"compared: {e(compared or 'nothing (no matching image)')}.</p>{body}</section>")


def _shards(shards: list[ShardInfo]) -> str:
    """The hosts a merged sign-off's shards ran on."""
    rows = "".join(f'<tr data-shard="{e(s.name)}"><td><code>{e(s.name)}</code></td><td>{e(s.host.hostname)}</td>'
                   f"<td>{e(s.host.gpus)}</td><td>{e(s.host.granted)}</td><td>{e(s.host.driver)}</td>"
                   f"<td>{e(s.host.cuda)}</td><td>{e(s.host.engine)}</td></tr>" for s in shards)
    return ('<section id="shards"><h2>Hosts (shards merged)</h2><table id="shard-table"><thead><tr><th>shard</th>'
            "<th>host</th><th>GPU model x count</th><th>GPUs granted</th><th>driver</th><th>CUDA seen inside</th>"
            f"<th>engine</th></tr></thead><tbody>{rows}</tbody></table></section>")


def _matrix(image: ImageReport, shards: list[ShardInfo]) -> str:
    """Checks by host: where each check ran, and what each host lacked."""
    head = "".join(f'<th data-shard="{e(s.name)}"><code>{e(s.name)}</code><br><span class="muted">{e(s.host.gpus)}'
                   f"<br>driver {e(s.host.driver)}<br>CUDA {e(s.host.cuda)}<br>{e(s.host.engine)}</span></th>"
                   for s in shards)
    body = []
    advisory = ' <span class="badge advisory">advisory</span>'
    for row in matrix.rows(image, shards):
        cells = "".join(f'<td class="cell" data-status="{e(c.status or "")}">'
                        f'<span class="badge {e(c.status or "not-selected")}">{e(c.text)}</span></td>'
                        for c in row.cells)
        body.append(f'<tr data-check="{e(row.check)}" data-status="{e(row.status)}"><td><code>{e(row.check)}</code>'
                    f'{"" if row.required else advisory}</td>'
                    f'<td><span class="badge {e(row.status)}">{e(matrix.WORDS.get(row.status, row.status))}</span>'
                    f"</td>{cells}</tr>")
    return (f'<h3>Checks by host</h3><table class="matrix"><thead><tr><th>check</th><th>merged</th>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _check(check: CheckRecord, open_: bool) -> str:
    role = "required" if check.required else "advisory"
    first = (check.message or "").strip().splitlines()
    sections = "".join(f"<details><summary>{e(s.title)}</summary><pre>{e(s.content)}</pre></details>"
                       for s in check.sections)
    details = (f"<details><summary>full report ({e(check.phase)})</summary><pre>{e(check.details)}</pre></details>"
               if check.details else "")
    return (f'<details class="check {e(check.outcome)}" data-check="{e(check.check)}"{" open" if open_ else ""}>'
            f'<summary><span class="badge {e(check.outcome)}">{e(check.outcome.upper())}</span> '
            f'<code>{e(check.check)}</code> <span class="badge {"advisory" if role == "advisory" else ""}">{role}</span> '
            f'<span class="msg">{e(first[0] if first else "")}</span> <span class="muted">{check.duration_s} s</span>'
            f"</summary>"
            + (f'<p class="muted">{e(check.doc)}</p>' if check.doc else "")
            + f'<pre class="message">{e(check.message)}</pre><h4>Evidence</h4>{_evidence(check.evidence)}'
            + f'{details}{sections}<p class="muted"><code>{e(check.nodeid)}</code>'
            + (f" · worker {e(check.worker)}" if check.worker else "") + "</p></details>")


def _image(index: int, image: ImageReport, shards: list[ShardInfo] | None) -> str:
    slug = _slug(image.verdict)
    out = [f'<section class="image" id="image-{index}" data-ref="{e(image.ref)}" data-verdict="{e(image.verdict)}">',
           f'<h2><code>{e(image.ref)}</code> <span class="badge {slug}">{e(image.verdict)}</span></h2>']
    if image.judged:
        out.append(f'<p class="muted" data-judged="{e(image.judged)}">judged: <code>{e(image.judged)}</code></p>')
    if image.reused_from:
        out.append(f'<p class="muted" data-reused-from="{e(image.reused_from.folder)}">results reused from '
                   f"{e(image.reused_from.label())}: no check ran for this image in this run</p>")
    if image.description:
        out.append(f'<p class="muted">{e(image.description)}</p>')
    if image.reasons:
        out.append('<ol class="reasons">' + "".join(f"<li>{e(r)}</li>" for r in image.reasons) + "</ol>")
    else:
        clear = image.all_clear()
        out.append(f'<p class="ok-line">{e(clear[0].upper() + clear[1:])}.</p>')
    if image.regressions:
        out.append("<h3>Regressions</h3><ul>" + "".join(f"<li>{e(r.summary)}</li>" for r in image.regressions)
                   + "</ul>")
    if image.notes:  # the skips (verdict's own key) are in the table of skipped checks below
        out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in image.notes) + "</ul>")
    if image.error:
        out.append(f'<pre class="message">{e(image.error)}</pre>')
    if shards:
        out.append(_matrix(image, shards))
    failed = image.shown(SHOWN_AS_FAILED)
    if failed:
        out.append(f"<h3>Failed checks ({len(failed)})</h3>" + "".join(_check(c, True) for c in failed))
    skipped = image.shown(SHOWN_AS_SKIPPED)
    if skipped:
        rows = "".join(f'<tr><td><code>{e(c.check)}</code></td><td>{e(c.message)}</td>'
                       f'<td>{c.duration_s}</td><td>{_evidence(c.evidence) if c.evidence else ""}</td></tr>'
                       for c in skipped)
        out.append(f'<h3>Skipped checks ({len(skipped)})</h3><table class="checks"><colgroup><col style="width:28%">'
                   '<col style="width:34%"><col style="width:8%"><col style="width:30%"></colgroup><thead><tr>'
                   f"<th>check</th><th>reason</th><th>seconds</th><th>evidence</th></tr></thead><tbody>{rows}</tbody>"
                   "</table>")
    passed = image.shown(SHOWN_AS_PASSED)
    if passed:
        rows = "".join(f'<tr><td><code>{e(c.check)}</code></td><td>{c.duration_s}</td>'
                       f'<td>{_evidence(c.evidence) if c.evidence else ""}</td></tr>' for c in passed)
        out.append(f'<details class="passed-list"><summary><h3 style="display:inline">Passed checks ({len(passed)})'
                   f'</h3></summary><table class="checks"><colgroup><col style="width:34%"><col style="width:8%">'
                   '<col style="width:58%"></colgroup><thead><tr><th>check</th><th>seconds</th><th>evidence</th></tr></thead>'
                   f"<tbody>{rows}</tbody></table></details>")
    out.append(_content(image))
    out.append('<div class="grid">' + _versions(image) + _metadata(image) + "</div>")
    if image.perf:
        host = any(f.shard for f in image.perf.values())
        rows = "".join(f"<tr><td><code>{e(k)}</code></td><td>{f.value:g} {e(f.unit)}</td>"
                       f"<td>{e(f.direction)} is better</td><td><code>{e(f.check)}</code></td>"
                       + (f"<td>{e(f.shard)}: {e(f.host)}</td>" if host else "") + "</tr>"
                       for k, f in sorted(image.perf.items()))
        out.append("<h3>Performance</h3><table><thead><tr><th>figure</th><th>value</th><th></th><th>check</th>"
                   + ("<th>measured on</th>" if host else "") + f"</tr></thead><tbody>{rows}</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _versions(image: ImageReport) -> str:
    versions = image.versions or {}
    promised = image.promised or {}
    if not versions and not promised:
        return ""
    rows = []
    for key in dict.fromkeys([*versions, *promised]):
        seen, want = versions.get(key), promised.get(key)
        mismatch = want is not None and seen is not None and not str(seen).startswith(str(want))
        style = ' style="color: var(--bad); font-weight: 600"' if mismatch else ""
        rows.append(f"<tr><td>{e(key)}</td><td{style}>{e(seen or '–')}</td><td>{e(want or '–')}</td></tr>")
    note = f'<p class="muted">{e(image.facts_error)}</p>' if image.facts_error else ""
    return (f"<div><h3>Versions seen inside</h3>{note}<table><thead><tr><th>component</th><th>seen inside</th>"
            f"<th>images.yaml promises</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _metadata(image: ImageReport) -> str:
    info = image.image
    if info is None:
        return ""
    inside = image.inside or {}
    devices = ", ".join(f"{d.get('name')} (sm {d.get('capability')})" for d in inside.get("devices") or []) or "none"
    rows = [("image ID", f"<code>{e(info.id)}</code>"),
            ("registry digests", e(", ".join(info.repo_digests) or "none (never pushed)")),
            ("size", size_text(info.size_bytes)), ("created", e(info.created)),
            ("platform", e(f"{info.os}/{info.architecture}")),
            ("user", e(info.user or "root")), ("entrypoint", _value(info.entrypoint)),
            ("cmd", _value(info.cmd)), ("GPUs seen inside", e(devices))]
    if image.session is not None:
        rows += [("containers started", e(image.session.get("containers_started"))),
                 ("torch imports in the shared probe container", e(image.session.get("torch_imports")))]
    rows += [(f"label {k}", e(v)) for k, v in sorted(info.labels.items())]
    body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<div><h3>Image</h3><table>{body}</table></div>"


def speedups(signoff: SignOff) -> list[tuple[str, str, float, int]]:
    """(model name, image ref, speedup, image index) of every compile speedup recorded."""
    bars = []
    for index, image in enumerate(signoff.images):
        for figure in image.perf.values():
            if figure.subject.startswith("compile.") and figure.measure == "speedup" and figure.unit == "x":
                bars.append((figure.subject.split(".", 1)[1], image.ref, float(figure.value), index))
    return sorted(bars, key=lambda b: (b[0], b[3]))


def speedup_chart(signoff: SignOff) -> str:
    """An inline SVG bar chart of the compile speedups (eager time / compiled time): one
    group of bars per model, one bar per image, coloured by image (legend on top)."""
    bars = speedups(signoff)
    if not bars:
        return ""
    refs = list(dict.fromkeys(b[1] for b in bars))
    label_w, plot_w, row_h, gap = 170, 460, 20, 8
    legend_h = 18 * len(refs) if len(refs) > 1 else 0
    top = 30 + legend_h
    scale_max = max(max(b[2] for b in bars), 1.5) * 1.15
    x = lambda v: label_w + plot_w * v / scale_max  # noqa: E731
    parts, y, previous = [], top, None
    for name, ref, value, index in bars:
        if previous is not None and name != previous:
            y += gap
        color = PALETTE[index % len(PALETTE)]
        if name != previous:
            parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{e(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(x(value) - label_w, 1):.1f}" height="{row_h - 6}" '
                     f'fill="{color}"><title>{e(ref)} {e(name)}: {value:.2f}x</title></rect>')
        parts.append(f'<text x="{x(value) + 4:.1f}" y="{y + 14}">{value:.2f}x</text>')
        previous = name
        y += row_h
    height = y + 28
    head = [f'<svg id="speedup-chart" xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 60}" '
            f'height="{height}" role="img" aria-label="compile speedups">',
            f'<text x="{label_w}" y="16" fill="#374151">speedup after warm-up (eager time / compiled time)</text>']
    if len(refs) > 1:
        for n, ref in enumerate(refs):
            index = next(b[3] for b in bars if b[1] == ref)
            head.append(f'<rect x="{label_w}" y="{26 + 18 * n}" width="12" height="12" '
                        f'fill="{PALETTE[index % len(PALETTE)]}"/><text x="{label_w + 18}" y="{36 + 18 * n}">{e(ref)}</text>')
    parts.append(f'<line x1="{x(1.0):.1f}" y1="{top - 2}" x2="{x(1.0):.1f}" y2="{y + 2}" stroke="#111827" '
                 'stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{x(1.0):.1f}" y="{y + 18}" text-anchor="middle" fill="#374151">1.0x = eager</text>')
    return "".join(head + parts) + "</svg>"


def _performance(signoff: SignOff) -> str:
    chart = speedup_chart(signoff)
    body = chart or ('<p class="muted">No compile speedups were recorded in this run (the compile checks were '
                     "skipped or not selected).</p>")
    return f'<section id="performance"><h2>Compile speedups</h2>{body}</section>'


def _host(host: dict, run: Run) -> str:
    docker = host.get("docker") or {}
    access = host.get("gpu_access") or {}
    gpus = ", ".join(f"{g['index']}: {g['name']}" + (f" ({g['memory_mib']} MiB)" if g.get("memory_mib") else "")
                     for g in host.get("gpus") or []) or "none found"
    rows = [("host", f"{host.get('hostname')} · {host.get('platform')}"), ("GPUs", gpus),
            ("driver", host.get("driver") or "–"), ("GPU access", access.get("summary") or host.get("error")),
            ("Docker", f"{docker.get('version')} (API {docker.get('api_version')}, {docker.get('storage_driver')}, "
                       f"{docker.get('os')})" if docker.get("version") else docker.get("error")),
            ("mode", run.mode), ("workers", run.workers or "none (one process)"),
            ("started", run.started), ("duration", f"{run.duration_s} s"),
            ("images.yaml", run.images_file)]
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return f'<section id="host"><h2>Host and run</h2><table>{body}</table></section>'


SHOWN_CHANGES = 60  # package changes shown before the rest are folded away


def _content(image: ImageReport) -> str:
    """What ships: the SBOM files (linked, with their sha256), the package counts, the
    package diff against the baseline (the GPU stack first), the layers largest first with
    their growth against the baseline's."""
    content = image.content
    if content is None:
        return ""
    out = ['<div class="content" data-section="content"><h3>What ships</h3>']
    if content.sbom:
        counts = content.package_counts
        files = "".join(f'<li data-sbom="{e(f.format)}"><a href="{e(f.file)}"><code>{e(f.file)}</code></a> '
                        f"({e(f.format)}, {human(f.bytes)}), sha256 <code>{e(f.sha256)}</code></li>"
                        for f in content.sbom)
        out.append(f"<p>SBOM made by {e(content.sbom_tool)}: {counts.get('deb', 0)} Debian and "
                   f"{counts.get('python', 0)} Python packages.</p><ul>{files}</ul>")
    if content.note:
        out.append(f'<p class="muted">{e(content.note)}</p>')
    out.append(_package_changes(image))
    out.append(_layers(image))
    return "".join(out) + "</div>"


def _package_row(change) -> str:
    flagged = change.change == "downgraded" and change.gpu_stack
    what = change.change + (f" (GPU stack: {change.gpu_stack})" if change.gpu_stack else "")
    return (f'<tr class="package-change{" gpu-downgrade" if flagged else ""}" data-change="{e(change.change)}" '
            f'data-package="{e(change.name)}"><td>{"⚠ " if flagged else ""}{e(what)}</td><td><code>{e(change.name)}'
            f"</code></td><td>{e(change.kind)}</td><td>{e(change.baseline or '–')}</td>"
            f"<td>{e(change.current or '–')}</td><td>{e(change.license or '–')}</td></tr>")


def _package_changes(image: ImageReport) -> str:
    content = image.content
    changes = content.package_changes
    if changes is None:
        if image.baseline_ref and content.packages is not None:
            return ('<p class="muted">No package diff: the baseline report carries no package list (its run made '
                    "no SBOM).</p>")
        return ""
    if not changes:
        return f'<p class="ok-line">The same Debian and Python packages as <code>{e(image.baseline_ref)}</code>.</p>'
    counted = ", ".join(f"{n} {change}" for change, n in tally(changes).items() if n)
    head = ("<table class=\"packages\"><thead><tr><th>change</th><th>package</th><th>kind</th><th>baseline</th>"
            "<th>now</th><th>license</th></tr></thead><tbody>")
    shown = head + "".join(_package_row(c) for c in changes[:SHOWN_CHANGES]) + "</tbody></table>"
    rest = changes[SHOWN_CHANGES:]
    folded = (f"<details><summary>{len(rest)} more package changes</summary>{head}"
              + "".join(_package_row(c) for c in rest) + "</tbody></table></details>") if rest else ""
    return (f'<h4 id="package-diff-{e(image.ref)}">Package changes against <code>{e(image.baseline_ref)}</code> '
            f'<span class="muted">({e(counted)}; the GPU stack first)</span></h4>{shown}{folded}')


def _layers(image: ImageReport) -> str:
    content = image.content
    if not content.layers:
        return ""
    total, growth, against = layers_overview(image)
    rows = []
    for layer in largest_first(content.layers):
        grown = growth.get(layer.index)
        change = "–" if grown is None else ("new" if grown.status == "new" else signed(grown.growth))
        rows.append(f'<tr class="layer" data-layer="{layer.index + 1}"><td>{layer.index + 1}</td>'
                    f"<td>{human(layer.size_bytes)}</td><td>{e(change)}</td><td><code>{e(layer.step)}</code></td></tr>")
    rows += [f'<tr class="layer removed"><td>removed</td><td>–</td><td>{signed(g.growth)}</td>'
             f"<td><code>{e(g.step)}</code></td></tr>" for g in content.layer_growth or [] if g.status == "removed"]
    return (f'<h4>Layers <span class="muted">(largest first; {human(total)} in {len(content.layers)} layers'
            f'{e(against)})</span></h4><table class="layers checks"><colgroup><col style="width:8%">'
            '<col style="width:12%"><col style="width:12%"><col style="width:68%"></colgroup><thead><tr><th>layer</th>'
            f"<th>size</th><th>growth</th><th>build step</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
