"""One sign-off from the shards of a release: runs of the same image on several hosts
(`pytest --shard DIR`), each judging what its host can run.

The rules, per check of an image:
- it FAILED when it failed on any shard; the failure names that shard's host;
- else it PASSED when it passed on at least one shard that ran it;
- else it does NOT APPLY when a shard says so (another variant covered that host);
- else no shard could run it: COULD NOT RUN, with what each shard lacked (its requirement
  as data); a release merge (--release) blocks on it, a development merge notes it.
Then each image is judged as a run's image is (verdict.judge), also against a baseline.
Performance figures keep the shard and host they were measured on. What the image ships
(its SBOM's packages, its layers) comes from a shard that recorded it (the same image ID
on every shard: one SBOM serves them all); the package diff and the layers' growth are
made again against the merge's baseline.

Shards are refused (MergeRefused) unless they judged the same thing: the same images, by
image ID and repository digest, against the same promises in images.yaml, with the same
suite version; the message names both sides of the difference.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Iterable

from ..errors import ImagecheckError, explain
from ..pytest_plugin.outcomes import COULD_NOT_RUN, FAILED, NOT_APPLICABLE_STATUS, PASSED
from . import assemble, verdict
from .model import LISTING_ORDER, BaselineInfo, CheckRecord, CollectionError, ImageReport, PerfFigure, \
    ReleaseContent, Run, ShardInfo, ShardResult, SignOff
from .requirement import describe

RELEASE_OPTION = "--release"
HINT_ONE_DIGEST = ("merge the shards of one release only: run every shard with the same --image "
                   "REPO@sha256:... , the same images.yaml and the same imagecheck version")


class MergeRefused(ImagecheckError):
    """The shards cannot be merged into one sign-off (they judged different things)."""


@dataclasses.dataclass
class Shard:
    """A shard as read from its folder: where it was read from, and its report."""

    where: str
    report: SignOff

    @property
    def info(self) -> ShardInfo:
        assert self.report.shard is not None  # cli.load_shard refuses a report that is not a shard
        return self.report.shard


def where_of(info: ShardInfo) -> str:
    """A shard's host in a few words: 'gpu2 (NVIDIA H200 x 2 on host-a)'."""
    host = info.host
    return f"{info.name} ({host.gpus}" + (f" on {host.hostname}" if host.hostname else "") + ")"


# ---- refusing what cannot be merged -------------------------------------------------------
def _refuse(what: str, *, expected: str, observed: str, where: str, hint: str = HINT_ONE_DIGEST) -> MergeRefused:
    return MergeRefused(explain(what, expected=expected, observed=observed, where=where, hint=hint))


def _identities(info: ShardInfo) -> str:
    """'ref (its digest or ID)' of each image a shard judged."""
    return ", ".join(f"{ref} ({judged.get('judged') or judged.get('id') or 'no image ID'})"
                     for ref, judged in info.images.items()) or "no image"


def check_compatible(shards: list[Shard]) -> None:
    """Raise MergeRefused naming the first difference between the shards."""
    first = shards[0]
    for other in shards[1:]:
        a, b = first.info, other.info
        where = f"{first.where} and {other.where}"
        if a.suite_version != b.suite_version:
            raise _refuse(f"shards {a.name} and {b.name} come from different imagecheck versions",
                          expected=f"imagecheck {a.suite_version} (shard {a.name})",
                          observed=f"imagecheck {b.suite_version} (shard {b.name})", where=where)
        if set(a.images) != set(b.images):  # the same images, in whatever order each host ran them
            raise _refuse(f"shards {a.name} and {b.name} judged different images",
                          expected=f"{_identities(a)} (shard {a.name})",
                          observed=f"{_identities(b)} (shard {b.name})", where=where)
        for ref in a.images:
            mine, theirs = a.images[ref], b.images[ref]
            if not mine.get("id") or not theirs.get("id"):
                blind = a if not mine.get("id") else b
                raise _refuse(f"shard {blind.name} recorded no image ID for {ref}, so nothing binds it to the "
                              "image the other shards judged",
                              expected=f"an image ID, as shard {(b if blind is a else a).name} recorded",
                              observed="none (the image was not on that host's engine, or could not be inspected)",
                              where=where, hint="run that shard again with the image present (docker pull it)")
            if mine["id"] != theirs["id"]:
                raise _refuse(f"shards {a.name} and {b.name} judged different images for {ref}",
                              expected=f"image ID {mine['id']} (shard {a.name})",
                              observed=f"image ID {theirs['id']} (shard {b.name})", where=where)
            digests_a, digests_b = set(mine.get("repo_digests") or []), set(theirs.get("repo_digests") or [])
            if digests_a and digests_b and not digests_a & digests_b:
                raise _refuse(f"shards {a.name} and {b.name} judged {ref} under different repository digests",
                              expected=f"{', '.join(sorted(digests_a))} (shard {a.name})",
                              observed=f"{', '.join(sorted(digests_b))} (shard {b.name})", where=where)
            if mine.get("promises_digest") != theirs.get("promises_digest"):
                raise _refuse(f"shards {a.name} and {b.name} judged {ref} against different promises in "
                              "images.yaml", expected=f"promises {mine.get('promises_digest')} (shard {a.name})",
                              observed=f"promises {theirs.get('promises_digest')} (shard {b.name})", where=where,
                              hint="run every shard with the same images.yaml (its entry for the image, "
                                   "timeouts aside)")


def _named(shards: list[Shard]) -> list[Shard]:
    """The shards with unique names (a repeated name gets ' #2', ' #3')."""
    seen: dict[str, int] = {}
    out = []
    for shard in shards:
        name = shard.info.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            renamed = dataclasses.replace(shard.info, name=f"{name} #{seen[name]}")
            report = dataclasses.replace(shard.report, shard=renamed)
            shard = Shard(shard.where, report)
        out.append(shard)
    return out


# ---- the rules ------------------------------------------------------------------------------
def merge_check(results: list[tuple[ShardInfo, CheckRecord]]) -> CheckRecord:
    """One check's record from what each shard that selected it made of it."""
    by_status: dict[str, list[tuple[ShardInfo, CheckRecord]]] = {}
    for info, record in results:
        by_status.setdefault(record.status, []).append((info, record))
    per_shard = [ShardResult(info.name, r.status, r.outcome, r.message, r.requirement, r.duration_s)
                 for info, r in results]
    if FAILED in by_status:
        failing = by_status[FAILED]
        info, base = failing[0]
        message = f"on {', '.join(where_of(i) for i, _ in failing)}: {base.message}"
        status, outcome, requirement = FAILED, base.outcome, base.requirement
    elif PASSED in by_status:
        info, base = by_status[PASSED][0]
        status, outcome, message, requirement = PASSED, base.outcome, base.message, None
    elif NOT_APPLICABLE_STATUS in by_status:
        info, base = by_status[NOT_APPLICABLE_STATUS][0]
        status, outcome, message, requirement = NOT_APPLICABLE_STATUS, "skipped", base.message, None
    else:
        info, base = results[0]
        lacking = [f"{i.name} {describe(r.requirement, r.message)}" for i, r in results]
        message = "could not run on any shard: " + "; ".join(lacking)
        requirement = {"kind": "any_shard", "shards": {i.name: r.requirement for i, r in results}}
        status, outcome = COULD_NOT_RUN, "skipped"
    return dataclasses.replace(base, outcome=outcome, status=status, message=message, requirement=requirement,
                               worker=None, shards=per_shard,
                               details=base.details if status == FAILED else "",
                               sections=base.sections if status == FAILED else [])


def merge_checks(reports: Iterable[tuple[ShardInfo, list[CheckRecord]]]) -> list[CheckRecord]:
    """Every check any shard selected, merged (first seen first, then in listing order)."""
    grouped: "OrderedDict[str, list[tuple[ShardInfo, CheckRecord]]]" = OrderedDict()
    for info, checks in reports:
        for record in checks:
            grouped.setdefault(record.check, []).append((info, record))
    merged = [merge_check(results) for results in grouped.values()]
    return sorted(merged, key=lambda c: LISTING_ORDER.get(c.outcome, 5))


def merge_perf(images: list[tuple[ShardInfo, ImageReport]]) -> dict[str, PerfFigure]:
    """Every figure with the shard and host it was measured on; the same figure from more
    shards keeps the first and lists the others (elsewhere)."""
    figures: dict[str, PerfFigure] = {}
    for info, image in images:
        for key, figure in image.perf.items():
            if key in figures:
                figures[key].elsewhere = (figures[key].elsewhere or []) + [
                    {"shard": info.name, "host": info.host.label(), "value": figure.value}]
            else:
                figures[key] = dataclasses.replace(figure, shard=info.name, host=info.host.label())
    return figures


def _inside(images: list[ImageReport]) -> dict | None:
    """What the image saw inside: from a shard where CUDA was available, else the first."""
    seen = [image.inside for image in images if image.inside is not None]
    return next((inside for inside in seen if inside.get("cuda_available")), seen[0] if seen else None)


def _content(images: list[ImageReport]) -> ReleaseContent | None:
    """What the image ships, from the first shard with a package list (else with layers),
    its comparison with a baseline left to the merge's own."""
    found = [image.content for image in images if image.content is not None]
    chosen = next((c for c in found if c.packages is not None), found[0] if found else None)
    if chosen is None:
        return None
    layers = chosen.layers or next((c.layers for c in found if c.layers), None)
    return dataclasses.replace(chosen, layers=layers, package_changes=None, layer_growth=None,
                               baseline_size_bytes=None)


def merge_image(ref: str, images: list[tuple[ShardInfo, ImageReport]]) -> ImageReport:
    """An image's report from its shards, before its verdict."""
    reports = [image for _, image in images]
    first = reports[0]
    return dataclasses.replace(
        first, image=next((i.image for i in reports if i.image is not None), None),
        versions=next((i.versions for i in reports if i.versions), first.versions), inside=_inside(reports),
        session=None, error=next((i.error for i in reports if i.error), None),
        facts_error=next((i.facts_error for i in reports if i.facts_error), None),
        checks=merge_checks((info, image.checks) for info, image in images), perf=merge_perf(images),
        baseline_ref=None, regressions=[], verdict="", reasons=[], notes=[], skips=[], content=_content(reports))


def merge(shards: list[Shard], *, release: bool, baseline: SignOff | None = None,
          baseline_info: dict | None = None, run: Run | None = None) -> SignOff:
    """The merged, judged sign-off of compatible shards (MergeRefused otherwise)."""
    if not shards:
        raise MergeRefused(explain("nothing to merge", expected="one or more shard folders",
                                   observed="none", where="the merge command line",
                                   hint="pass the folders that `pytest --shard DIR` wrote"))
    check_compatible(shards)
    shards = _named(shards)
    infos = [s.info for s in shards]
    incomplete = [f"shard {s.info.name}: {reason}" for s in shards for reason in s.report.run.incomplete]
    mode = verdict.RELEASE if release else verdict.DEVELOPMENT
    images = []
    for ref in infos[0].images:
        per_shard = [(s.info, image) for s in shards if (image := s.report.image_named(ref)) is not None]
        merged = merge_image(ref, per_shard)
        images.append(assemble.judge_with_baseline(merged, baseline=baseline, mode=mode,
                                                   release_option=RELEASE_OPTION, incomplete=incomplete))
    run = run or Run()
    run = dataclasses.replace(
        run, require_gpu=release, mode=f"release ({RELEASE_OPTION})" if release else "development",
        incomplete=incomplete, images_file=shards[0].report.run.images_file,
        collection_errors=[CollectionError(f"{s.info.name}: {c.nodeid}", c.message)
                           for s in shards for c in s.report.run.collection_errors])
    return SignOff(
        images=images, run=run, host={}, tool={"name": "imagecheck", "version": infos[0].suite_version},
        baseline=BaselineInfo.from_json(baseline_info), shards=infos,
        suite_checks=merge_checks((s.info, s.report.suite_checks) for s in shards))
