"""The sign-off model: a check record, a regression, an image's report, the run, the whole
sign-off (and, for a fleet sign-off, the shards it merged).

Every renderer (HTML, Markdown, JSON, JUnit) reads these objects; to_json()/from_json()
write and read report.json (schema imagecheck.signoff/1), which `--baseline` and the
merge read back. from_json() accepts reports written before a key was added (it fills in
what is missing); an image's report and its image section keep keys they do not know
(`extra`), so a newer writer's additions there survive; other records drop them.

Outcome buckets, defined here only:
- OUTCOMES: what pytest's phases make of a check (records.py): passed, failed, error,
  skipped, xfailed, xpassed;
- FAILING (failed, error): a required check in it blocks the image;
- SHOWN_AS_FAILED, SHOWN_AS_SKIPPED: how the pages group the checks (an unexpected pass
  is shown with the failures: it needs a reader's eyes, but it judged nothing wrong);
- the four statuses a machine can merge (status_of): passed (ran, nothing wrong), failed,
  not_applicable (the image promises nothing it could judge), could_not_run (this host
  lacks something: `requirement` says what, as data).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..pytest_plugin.outcomes import COULD_NOT_RUN, FAILED, NOT_APPLICABLE_STATUS, PASSED, is_not_applicable
from ..rules.layers import Layer, LayerGrowth
from ..rules.package_diff import Package, PackageChange

SCHEMA = "imagecheck.signoff/1"
SIGNED_OFF = "SIGNED OFF"
BLOCKED = "BLOCKED"

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
FAILING = ("failed", "error")
SHOWN_AS_FAILED = ("failed", "error", "xpassed")
SHOWN_AS_SKIPPED = ("skipped", "xfailed")
SHOWN_AS_PASSED = ("passed",)
# the order checks are listed in: what needs a reader's eyes first
LISTING_ORDER = {"failed": 0, "error": 0, "xpassed": 1, "skipped": 2, "xfailed": 3, "passed": 4}


def status_of(outcome: str, message: str | None) -> str:
    """The mergeable status of an outcome: failed and error fail; a skip does not apply
    (outcomes.not_applicable) or could not run here (any other skip); the rest ran and
    judged nothing wrong (passed, an expected failure, an unexpected pass)."""
    if outcome in FAILING:
        return FAILED
    if outcome == "skipped":
        return NOT_APPLICABLE_STATUS if is_not_applicable(message) else COULD_NOT_RUN
    return PASSED


def _known(cls: type, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Section:
    """A titled block of a failing check's report (a container log)."""

    title: str
    content: str

    def to_json(self) -> dict:
        return {"title": self.title, "content": self.content}

    @classmethod
    def from_json(cls, data: dict) -> "Section":
        return cls(str(data.get("title", "")), str(data.get("content", "")))


@dataclass
class ShardResult:
    """What one shard of a merged sign-off made of a check."""

    shard: str
    status: str
    outcome: str
    message: str = ""
    requirement: dict | None = None
    duration_s: float = 0.0

    def to_json(self) -> dict:
        return {"shard": self.shard, "status": self.status, "outcome": self.outcome, "message": self.message,
                "requirement": self.requirement, "duration_s": self.duration_s}

    @classmethod
    def from_json(cls, data: dict) -> "ShardResult":
        return cls(**_known(cls, data))


@dataclass
class CheckRecord:
    """One check of one image: how it ended, why, what it observed, whether it is required."""

    check: str
    function: str
    outcome: str
    nodeid: str = ""
    module: str = ""
    doc: str = ""
    image: str | None = None
    worker: str | None = None
    phase: str | None = None
    message: str = ""
    details: str = ""
    sections: list[Section] = field(default_factory=list)
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    required: bool = True
    status: str = ""
    requirement: dict | None = None       # what the host lacked (could_not_run, or a release run's failure)
    shards: list[ShardResult] | None = None  # a merged sign-off: what each shard made of it

    def __post_init__(self) -> None:
        if not self.status:
            self.status = status_of(self.outcome, self.message)

    def to_json(self) -> dict:
        out = {"check": self.check, "function": self.function, "nodeid": self.nodeid, "module": self.module,
               "doc": self.doc, "image": self.image, "worker": self.worker, "outcome": self.outcome,
               "phase": self.phase, "message": self.message, "details": self.details,
               "sections": [s.to_json() for s in self.sections], "duration_s": self.duration_s,
               "evidence": self.evidence, "required": self.required, "status": self.status,
               "requirement": self.requirement}
        if self.shards is not None:
            out["shards"] = [s.to_json() for s in self.shards]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "CheckRecord":
        values = _known(cls, data)
        values.setdefault("function", str(data.get("check", "")).split("[")[0])
        values["sections"] = [Section.from_json(s) for s in data.get("sections") or []]
        values["evidence"] = dict(data.get("evidence") or {})
        if data.get("shards") is not None:
            values["shards"] = [ShardResult.from_json(s) for s in data["shards"]]
        return cls(**values)


@dataclass
class Regression:
    """A difference from the baseline report; `effect` is decided with the verdict."""

    kind: str               # version, newly_failing, newly_skipped, not_run, perf, package
    name: str
    baseline: Any
    current: Any
    summary: str
    blocks: bool = False    # blocks on its own (a performance drop beyond the threshold)
    change: str | None = None       # version: upgrade, downgrade, changed, no longer seen
    drop: float | None = None       # perf: how much worse, as a fraction
    threshold: float | None = None  # perf: the fraction images.yaml allows
    effect: str | None = None       # blocks, blocks (a required check fails), informs

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "baseline": self.baseline,
                               "current": self.current}
        if self.change is not None:
            out["change"] = self.change
        if self.drop is not None:
            out.update(drop=self.drop, threshold=self.threshold)
        out.update(blocks=self.blocks, summary=self.summary)
        if self.effect is not None:
            out["effect"] = self.effect
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Regression":
        values = _known(cls, data)
        values.setdefault("summary", "")
        return cls(**values)


@dataclass
class PerfFigure:
    """A performance figure a check recorded (rules/perf.py names its key); in a merged
    sign-off also the shard and host it was measured on."""

    value: float
    unit: str = ""
    direction: str = ""
    subject: str = ""
    measure: str = ""
    check: str = ""
    shard: str | None = None
    host: str | None = None
    elsewhere: list[dict] | None = None  # a merge: the same figure measured on other shards

    def to_json(self) -> dict:
        out = {"value": self.value, "unit": self.unit, "direction": self.direction, "subject": self.subject,
               "measure": self.measure, "check": self.check}
        out.update({k: v for k, v in (("shard", self.shard), ("host", self.host), ("elsewhere", self.elsewhere))
                    if v is not None})
        return out

    @classmethod
    def from_json(cls, data: dict) -> "PerfFigure":
        return cls(**_known(cls, data))


@dataclass
class Policy:
    """images.yaml's sign-off policy for an image."""

    required: list[str] = field(default_factory=list)
    advisory: list[str] = field(default_factory=list)
    max_perf_drop: float = 0.2

    def to_json(self) -> dict:
        return {"required": list(self.required), "advisory": list(self.advisory), "max_perf_drop": self.max_perf_drop}

    @classmethod
    def from_json(cls, data: dict | None) -> "Policy":
        return cls(**_known(cls, data or {}))


_INFO_KEYS = ("id", "repo_digests", "size_bytes", "created", "architecture", "os", "user", "entrypoint", "cmd",
              "labels")


@dataclass
class ImageInfo:
    """What the engine says about an image (image/description.py metadata())."""

    id: str | None = None
    repo_digests: list[str] = field(default_factory=list)
    size_bytes: int | None = None
    created: str | None = None
    architecture: str | None = None
    os: str | None = None
    user: str = ""
    entrypoint: Any = None
    cmd: Any = None
    labels: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer description adds

    def to_json(self) -> dict:
        return {**{key: getattr(self, key) for key in _INFO_KEYS}, **self.extra}

    @classmethod
    def from_json(cls, data: dict) -> "ImageInfo":
        values = {key: data[key] for key in _INFO_KEYS if key in data}
        values["repo_digests"] = list(values.get("repo_digests") or [])
        values["labels"] = dict(values.get("labels") or {})
        return cls(**values, extra={k: v for k, v in data.items() if k not in _INFO_KEYS})


@dataclass
class SbomFile:
    """An SBOM of the image in the sign-off folder: its format, its path relative to the
    folder, its sha256 and size."""

    format: str
    file: str
    sha256: str
    bytes: int = 0

    def to_json(self) -> dict:
        return {"format": self.format, "file": self.file, "sha256": self.sha256, "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: dict) -> "SbomFile":
        return cls(**_known(cls, data))


@dataclass
class ReleaseContent:
    """What the image ships, as its SBOM and its layers tell (the SBOM and size checks'
    evidence, signoff/content.py): the SBOM files, the Debian and Python packages, the
    layers; against the baseline, what changed in the packages and how each layer grew.
    report.json carries the package list, so a later run's --baseline can diff against it."""

    sbom: list[SbomFile] = field(default_factory=list)
    sbom_tool: str = ""
    note: str = ""  # why something is missing (an SBOM that could not be read back)
    packages: list[Package] | None = None  # None: no SBOM was made
    layers: list[Layer] | None = None      # None: the size check did not run
    baseline_size_bytes: int | None = None
    package_changes: list[PackageChange] | None = None  # None: nothing to compare with
    layer_growth: list[LayerGrowth] | None = None

    @property
    def package_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for package in self.packages or []:
            counts[package.kind] = counts.get(package.kind, 0) + 1
        return counts

    def to_json(self) -> dict:
        optional = lambda items: None if items is None else [i.to_json() for i in items]  # noqa: E731
        return {"sbom": [s.to_json() for s in self.sbom], "sbom_tool": self.sbom_tool, "note": self.note,
                "package_counts": self.package_counts, "packages": optional(self.packages),
                "layers": optional(self.layers), "baseline_size_bytes": self.baseline_size_bytes,
                "package_changes": optional(self.package_changes), "layer_growth": optional(self.layer_growth)}

    @classmethod
    def from_json(cls, data: dict | None) -> "ReleaseContent | None":
        if not isinstance(data, dict):
            return None
        read = lambda key, kind: None if data.get(key) is None else [kind.from_json(i) for i in data[key]]  # noqa: E731
        return cls(sbom=[SbomFile.from_json(s) for s in data.get("sbom") or []], sbom_tool=data.get("sbom_tool") or "",
                   note=data.get("note") or "", packages=read("packages", Package), layers=read("layers", Layer),
                   baseline_size_bytes=data.get("baseline_size_bytes"),
                   package_changes=read("package_changes", PackageChange),
                   layer_growth=read("layer_growth", LayerGrowth))


def counts_of(checks: list[CheckRecord]) -> dict[str, int]:
    return {outcome: sum(1 for c in checks if c.outcome == outcome) for outcome in OUTCOMES}


@dataclass
class ReusedFrom:
    """The earlier run whose results an image's report carries (a nightly with --reuse):
    its folder under the reports folder, its report.json, and when that report was made."""

    folder: str
    report: str = ""
    generated: str = ""

    def label(self) -> str:
        """One line: 'run 2026-11-30 (generated 2026-11-30T02:00:05+00:00)'."""
        return f"run {self.folder} (generated {self.generated or 'at an unknown time'})"

    def to_json(self) -> dict:
        return {"folder": self.folder, "report": self.report, "generated": self.generated}

    @classmethod
    def from_json(cls, data: dict | None) -> "ReusedFrom | None":
        return None if not isinstance(data, dict) else cls(**_known(cls, data))


_DESCRIBED = ("image", "facts_error", "versions", "inside", "session", "error")
_IMAGE_KEYS = {"ref", "listed", "description", "promised", "policy", *_DESCRIBED, "checks", "counts", "perf",
               "baseline_ref", "regressions", "verdict", "reasons", "notes", "skips", "judged", "promises_digest",
               "fingerprint", "reused_from"}


@dataclass
class ImageReport:
    """One image: what images.yaml promises, what the engine and its facts say, its checks,
    figures and regressions, and the verdict (reasons block, notes inform, skips: one line
    per reason required checks could not run, in a run where that does not block)."""

    ref: str
    listed: bool = True
    description: str = ""
    promised: dict[str, Any] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    image: ImageInfo | None = None
    facts_error: str | None = None
    versions: dict[str, Any] | None = None
    inside: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    error: str | None = None
    checks: list[CheckRecord] = field(default_factory=list)
    perf: dict[str, PerfFigure] = field(default_factory=dict)
    content: ReleaseContent | None = None  # what it ships: SBOM, packages, layers (signoff/content.py)
    baseline_ref: str | None = None
    regressions: list[Regression] = field(default_factory=list)
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    judged: str | None = None  # what the verdict is about: the repository digest, else the image ID
    promises_digest: str | None = None
    fingerprint: dict[str, Any] | None = None  # what a nightly's --reuse compares (signoff/reuse.py)
    reused_from: ReusedFrom | None = None      # these results come from that earlier run
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.judged is None and self.image is not None:
            self.judged = (self.image.repo_digests or [None])[0] or self.image.id

    @property
    def required_not_run(self) -> int:
        """How many required checks could not run on this host (a release run blocks on them)."""
        return sum(1 for check in self.checks if check.required and check.status == COULD_NOT_RUN)

    def all_clear(self) -> str:
        """What an image with no reason to block can say of its required checks."""
        missing = self.required_not_run
        return "every required check passed" if not missing else \
            f"no required check failed; {missing} could not run on this host (a release run blocks on them)"

    @property
    def counts(self) -> dict[str, int]:
        return counts_of(self.checks)

    def shown(self, bucket: tuple[str, ...]) -> list[CheckRecord]:
        return [c for c in self.checks if c.outcome in bucket]

    def to_json(self) -> dict:
        out: dict[str, Any] = {"ref": self.ref, "listed": self.listed, "description": self.description,
                               "promised": self.promised, "policy": self.policy.to_json()}
        for key in _DESCRIBED:
            value = getattr(self, key)
            if value is not None:
                out[key] = value.to_json() if isinstance(value, ImageInfo) else value
        out.update(self.extra)
        if self.content is not None:
            out["content"] = self.content.to_json()
        out.update({"checks": [c.to_json() for c in self.checks], "counts": self.counts,
                    "perf": {k: f.to_json() for k, f in self.perf.items()}, "baseline_ref": self.baseline_ref,
                    "regressions": [r.to_json() for r in self.regressions], "verdict": self.verdict,
                    "reasons": list(self.reasons), "notes": list(self.notes), "skips": list(self.skips),
                    "judged": self.judged, "promises_digest": self.promises_digest})
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint
        if self.reused_from is not None:
            out["reused_from"] = self.reused_from.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict) -> "ImageReport":
        return cls(
            ref=str(data.get("ref")), listed=bool(data.get("listed", True)), description=data.get("description") or "",
            promised=dict(data.get("promised") or {}), policy=Policy.from_json(data.get("policy")),
            image=ImageInfo.from_json(data["image"]) if isinstance(data.get("image"), dict) else None,
            facts_error=data.get("facts_error"), versions=data.get("versions"), inside=data.get("inside"),
            session=data.get("session"), error=data.get("error"),
            checks=[CheckRecord.from_json(c) for c in data.get("checks") or []],
            perf={k: PerfFigure.from_json(f) for k, f in (data.get("perf") or {}).items()},
            content=ReleaseContent.from_json(data.get("content")),
            baseline_ref=data.get("baseline_ref"),
            regressions=[Regression.from_json(r) for r in data.get("regressions") or []],
            verdict=data.get("verdict") or "", reasons=list(data.get("reasons") or []),
            notes=list(data.get("notes") or []), skips=list(data.get("skips") or []),
            judged=data.get("judged"), promises_digest=data.get("promises_digest"),
            fingerprint=data.get("fingerprint"), reused_from=ReusedFrom.from_json(data.get("reused_from")),
            extra={k: v for k, v in data.items() if k not in _IMAGE_KEYS and k != "content"})


@dataclass
class CollectionError:
    nodeid: str
    message: str

    def to_json(self) -> dict:
        return {"nodeid": self.nodeid, "message": self.message}


@dataclass
class Run:
    """How the run (or the merge) went: command, times, mode, workers, and what cut it short."""

    args: list[str] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    duration_s: float = 0.0
    exitstatus: int | None = None
    require_gpu: bool = False
    mode: str = "development"
    workers: int = 0
    incomplete: list[str] = field(default_factory=list)
    collection_errors: list[CollectionError] = field(default_factory=list)
    images_file: str | None = None
    program: str = "pytest"

    def to_json(self) -> dict:
        return {"args": list(self.args), "started": self.started, "finished": self.finished,
                "duration_s": self.duration_s, "exitstatus": self.exitstatus, "require_gpu": self.require_gpu,
                "mode": self.mode, "workers": self.workers, "incomplete": list(self.incomplete),
                "collection_errors": [c.to_json() for c in self.collection_errors], "images_file": self.images_file,
                "program": self.program}

    @classmethod
    def from_json(cls, data: dict | None) -> "Run":
        values = _known(cls, data or {})
        values["collection_errors"] = [CollectionError(str(c.get("nodeid")), str(c.get("message", "")))
                                       for c in (data or {}).get("collection_errors") or []]
        return cls(**values)


@dataclass
class HostSummary:
    """A shard's host as the matrix shows it: GPU model x count, driver, CUDA, engine."""

    hostname: str = ""
    gpus: str = "no GPU"       # "NVIDIA H200 x 2"
    gpu_count: int = 0
    granted: int = 0           # GPUs granted to the containers (--gpu-mode, --gpus)
    driver: str = "–"
    cuda: str = "–"            # CUDA seen inside the image on this host
    engine: str = "–"          # "Docker 27.1.1"

    def label(self) -> str:
        """One line: 'NVIDIA H200 x 2 (granted 2), driver 550.54, CUDA 12.4 available, Docker 27.1'."""
        granted = f" (granted {self.granted})" if self.gpu_count and self.granted != self.gpu_count else ""
        return f"{self.gpus}{granted}, driver {self.driver}, CUDA {self.cuda}, {self.engine}"

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict | None) -> "HostSummary":
        return cls(**_known(cls, data or {}))


@dataclass
class ShardInfo:
    """What a shard is: its name, its host, the suite version, and per image what it judged
    (image ID, repository digests) against which promises (a digest of images.yaml's entry)."""

    name: str
    host: HostSummary = field(default_factory=HostSummary)
    suite_version: str = ""
    require_gpu: bool = False
    images: dict[str, dict] = field(default_factory=dict)  # ref -> {"id", "repo_digests", "promises_digest"}

    def to_json(self) -> dict:
        return {"name": self.name, "host": self.host.to_json(), "suite_version": self.suite_version,
                "require_gpu": self.require_gpu, "images": self.images}

    @classmethod
    def from_json(cls, data: dict) -> "ShardInfo":
        return cls(name=str(data.get("name") or "shard"), host=HostSummary.from_json(data.get("host")),
                   suite_version=str(data.get("suite_version") or ""), require_gpu=bool(data.get("require_gpu")),
                   images=dict(data.get("images") or {}))


@dataclass
class BaselineInfo:
    path: str
    generated: str | None = None
    images: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "generated": self.generated, "images": list(self.images)}

    @classmethod
    def from_json(cls, data: dict | None) -> "BaselineInfo | None":
        return None if not data else cls(**_known(cls, data))


@dataclass
class SignOff:
    """The whole sign-off: a run's (or a merge's) images with their verdicts."""

    images: list[ImageReport] = field(default_factory=list)
    run: Run = field(default_factory=Run)
    host: dict[str, Any] = field(default_factory=dict)
    generated: str = ""
    tool: dict[str, str] = field(default_factory=lambda: {"name": "imagecheck", "version": ""})
    baseline: BaselineInfo | None = None
    suite_checks: list[CheckRecord] = field(default_factory=list)
    shard: ShardInfo | None = None          # this report is a shard of a fleet sign-off
    shards: list[ShardInfo] | None = None   # this report merges these shards
    schema: str = SCHEMA

    @property
    def blocked(self) -> int:
        return sum(1 for image in self.images if image.verdict == BLOCKED)

    @property
    def verdict(self) -> str:
        return BLOCKED if self.blocked or not self.images else SIGNED_OFF

    @property
    def summary(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "images": len(self.images), "signed_off": len(self.images) - self.blocked,
                "blocked": self.blocked}

    def image_named(self, ref: str) -> ImageReport | None:
        return next((image for image in self.images if image.ref == ref), None)

    def to_json(self) -> dict:
        out = {"schema": self.schema, "tool": self.tool, "generated": self.generated, "summary": self.summary,
               "run": self.run.to_json(), "host": self.host,
               "baseline": None if self.baseline is None else self.baseline.to_json(),
               "images": [image.to_json() for image in self.images],
               "suite_checks": [c.to_json() for c in self.suite_checks]}
        if self.shard is not None:
            out["shard"] = self.shard.to_json()
        if self.shards is not None:
            out["shards"] = [s.to_json() for s in self.shards]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "SignOff":
        return cls(
            schema=data.get("schema") or SCHEMA, tool=dict(data.get("tool") or {"name": "imagecheck", "version": ""}),
            generated=data.get("generated") or "", run=Run.from_json(data.get("run")), host=data.get("host") or {},
            baseline=BaselineInfo.from_json(data.get("baseline")),
            images=[ImageReport.from_json(i) for i in data.get("images") or []],
            suite_checks=[CheckRecord.from_json(c) for c in data.get("suite_checks") or []],
            shard=ShardInfo.from_json(data["shard"]) if isinstance(data.get("shard"), dict) else None,
            shards=[ShardInfo.from_json(s) for s in data["shards"]] if isinstance(data.get("shards"), list) else None)
