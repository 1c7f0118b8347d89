"""images.yaml: the images and what each promises, loaded into typed, frozen records.

The file has two top-level keys: `defaults` (applies to every image) and `images` (one
entry per image reference). An image's entry is merged over the defaults key by key
(nested sections merge; lists, `ports` and `environment` replace whole, so an
image says its full set). Unknown keys and wrong types are rejected with
the file, the image and the key in the message, as are keys written twice (DuplicateKeyLoader),
image references the registry grammar refuses, and numbers outside the range a field
declares in its metadata (`bounds`, `key_bounds`, `pattern`, `choices`, checked in one
place: _check_declared). Expectations come only from here, never from parsing an image's
tag.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .rules import image_reference

# The project's own images file, beside the package: what a run reads when neither
# --images-file nor the root folder names one.
PROJECT_IMAGES_FILE = Path(__file__).resolve().parent.parent / "images.yaml"


# CVE severities, lowest first, as trivy and grype name them.
SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class Bounds:
    """The numbers a field allows: from low to high (inclusive; low excluded with
    low_open). Declared in a field's metadata as `bounds` (its value) or `key_bounds` (the
    keys of a mapping), checked when the file is loaded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {self.low} to {self.high}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"<= {self.high}"


@dataclass(frozen=True)
class Pattern:
    """The strings a field allows (a full match of regex), and how to say so."""

    regex: str
    expected: str

    def admits(self, value: str) -> bool:
        return re.fullmatch(self.regex, value) is not None


POSITIVE = Bounds(0, low_open=True)
AT_LEAST_ONE = Bounds(1)
NOT_NEGATIVE = Bounds(0)
SHARE = Bounds(0, 1)
PORT = Bounds(1, 65535)
# docker's sizes (--memory, --shm-size) as the Docker SDK reads them: a number above 0 and an
# optional unit b, k, m or g (KiB, MiB, GiB), which may end in b (512mb).
DOCKER_SIZE = Pattern(r"(?=[0-9.]*[1-9])[0-9]+(?:\.[0-9]+)?(?:[bB]|[kKmMgG][bB]?)?",
                      "a docker size above 0: a number with an optional unit b, k, m or g (512m, 8g, 48g)")
IPC_MODE = Pattern(r"none|private|shareable|host|container:\S+",
                   "an IPC mode docker knows: none, private, shareable, host or container:NAME")
COMPUTE_CAPABILITY = Pattern(r"[0-9]+\.[0-9]+", "a compute capability MAJOR.MINOR (8.0, 9.0)")
SECONDS = {"bounds": POSITIVE, "unit": "seconds"}
GROWTH = Bounds(0, 10)  # a share of the baseline's size; 10 guards against a percentage written as 10


@dataclass(frozen=True)
class UserSpec:
    """The image's default user."""

    name: str
    uid: int = field(metadata={"bounds": NOT_NEGATIVE})
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    """Run options the image documents (`docker run --shm-size ... --ipc ...`)."""

    shm_size: str | None = field(default=None, metadata={"pattern": DOCKER_SIZE})
    ipc: str | None = field(default=None, metadata={"pattern": IPC_MODE})


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each kind of work in a container."""

    start: int = field(default=60, metadata=SECONDS)
    command: int = field(default=120, metadata=SECONDS)
    probe: int = field(default=300, metadata=SECONDS)
    compile: int = field(default=1500, metadata=SECONDS)
    dataloader: int = field(default=300, metadata=SECONDS)
    ddp: int = field(default=300, metadata=SECONDS)
    service_ready: int = field(default=120, metadata=SECONDS)


@dataclass(frozen=True)
class LimitsSpec:
    """Bounds on every container the suite starts of the image (a hostile or broken image
    cannot take the host down): the processes and threads it may run, its memory, and
    whether a process in it may gain privileges (setuid binaries, file capabilities)."""

    # tasks (processes and threads); torch.compile and DDP need hundreds
    pids: int = field(default=4096, metadata={"bounds": AT_LEAST_ONE})
    # docker's --memory (e.g. "48g"); null: three quarters of the host's memory
    memory: str | None = field(default=None, metadata={
        "pattern": DOCKER_SIZE, "hint": "correct the value, or leave the key out for three quarters of the host's memory"})
    no_new_privileges: bool = True


@dataclass(frozen=True)
class GpuSpec:
    """What the image needs of the host's GPUs."""

    min_gpus: int = field(default=1, metadata={"bounds": NOT_NEGATIVE})
    compute_capability_min: str | None = field(default=None, metadata={"pattern": COMPUTE_CAPABILITY})
    # The share of the machine's own speed (the same work on the host, outside the image) a
    # container must reach: the bf16 matmul rate and the pinned host-to-device copy.
    min_host_share: float = field(default=0.9, metadata={"bounds": SHARE})


@dataclass(frozen=True)
class CompileSpec:
    """torch.compile on torchvision models (built with weights=None)."""

    gpu_models: list[str] = field(default_factory=lambda: [
        "resnet50", "mobilenet_v3_large", "swin_t", "vit_b_16", "convnext_tiny"])
    cpu_models: list[str] = field(default_factory=lambda: ["resnet18"])
    atol: float = field(default=5e-2, metadata={"bounds": NOT_NEGATIVE})
    rtol: float = field(default=5e-2, metadata={"bounds": NOT_NEGATIVE})
    batch_size: int = field(default=2, metadata={"bounds": AT_LEAST_ONE})
    steady_iterations: int = field(default=10, metadata={"bounds": AT_LEAST_ONE})


@dataclass(frozen=True)
class DataLoaderSpec:
    """A multi-worker DataLoader with pin_memory and persistent workers."""

    num_workers: int = field(default=4, metadata={"bounds": NOT_NEGATIVE})
    batch_size: int = field(default=32, metadata={"bounds": AT_LEAST_ONE})
    sample_mib: float = field(default=1.0, metadata={"bounds": POSITIVE, "unit": "MiB"})
    batches: int = field(default=8, metadata={"bounds": AT_LEAST_ONE})


@dataclass(frozen=True)
class OnnxSpec:
    """ONNX export of a torchvision model, when the image promises it."""

    opset: int | None = field(default=None, metadata={"bounds": AT_LEAST_ONE})
    model: str = "resnet18"


@dataclass(frozen=True)
class DdpSpec:
    """DDP over NCCL (GPU) or gloo (CPU) with torchrun inside the image."""

    model: str = "resnet18"
    steps: int = field(default=4, metadata={"bounds": AT_LEAST_ONE})
    min_bus_bandwidth_gbps: float | None = field(default=None, metadata={"bounds": POSITIVE, "unit": "GB/s"})
    min_host_share: float = field(default=0.9, metadata={"bounds": SHARE})  # of the host's own all_reduce
    bandwidth_bytes: int = field(default=1 << 30, metadata={"bounds": AT_LEAST_ONE, "unit": "bytes"})
    # per rank, of image_size x image_size RGB images
    batch_size: int = field(default=8, metadata={"bounds": AT_LEAST_ONE})
    image_size: int = field(default=64, metadata={"bounds": AT_LEAST_ONE, "unit": "pixels"})
    # gloo on CPU when fewer than 2 GPUs are granted
    cpu_processes: int = field(default=2, metadata={"bounds": AT_LEAST_ONE})
    cpu_bandwidth_bytes: int = field(default=1 << 24, metadata={"bounds": AT_LEAST_ONE, "unit": "bytes"})


@dataclass(frozen=True)
class JupyterSpec:
    """How the image's Jupyter is protected."""

    token_env: str = "JUPYTER_TOKEN"


@dataclass(frozen=True)
class CveSpec:
    """CVE scan policy, used when trivy or grype is on PATH."""

    max_severity: str = field(default="HIGH", metadata={"choices": SEVERITIES})
    allowlist: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SecuritySpec:
    """Filesystem and secret scanning policy."""

    setuid_allowlist: list[str] = field(default_factory=list)
    secret_allowlist: list[str] = field(default_factory=list)
    cve: CveSpec = field(default_factory=CveSpec)


@dataclass(frozen=True)
class CheckPolicy:
    """Which checks block a sign-off (required) and which only inform (advisory)."""

    required: list[str] = field(default_factory=list)
    advisory: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RegressionSpec:
    """How much a performance figure may drop against a baseline report."""

    max_perf_drop: float = field(default=0.2, metadata={"bounds": SHARE,
                                                        "hint": "a share of the baseline: 0.2 allows 20 % worse"})


@dataclass(frozen=True)
class SizeSpec:
    """What the image may weigh, in the units `docker images` lists (GB = 10^9 bytes), how
    much more than the baseline report's image it may weigh, and the bytes it may carry for
    nothing (wasted-space checks)."""

    # the most the image may weigh; null: no budget (only the growth is judged)
    max_gb: float | None = field(default=None, metadata={"bounds": POSITIVE, "unit": "GB"})
    # a share of the baseline image's size (0.1 allows 10 % more); judged with --baseline
    max_growth: float = field(default=0.1, metadata={"bounds": GROWTH,
                                                     "hint": "a share of the baseline: 0.1 allows 10 % more"})
    # files written in one layer and overwritten, re-permissioned or deleted in a later one
    max_waste_mb: float = field(default=16.0, metadata={"bounds": NOT_NEGATIVE, "unit": "MB"})
    # package managers' caches left in the image (pip, apt, conda)
    max_cache_mb: float = field(default=1.0, metadata={"bounds": NOT_NEGATIVE, "unit": "MB"})


@dataclass(frozen=True)
class ImageSpec:
    """Everything one image promises. None means 'not promised, not checked'."""

    description: str = ""
    run_by_default: bool = True  # false: validated only when named with --image (controls, host-only images)
    python: str | None = None
    torch: str | None = None
    torchvision: str | None = None
    torchaudio: str | None = None
    triton: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    nccl: str | None = None
    extra_modules: list[str] = field(default_factory=list)
    user: UserSpec | None = None
    ports: dict[int, str] = field(default_factory=dict, metadata={
        "key_bounds": PORT, "key_is": "a TCP port", "hint": "list the ports the image listens on (22: ssh, 8888: jupyter)"})
    jupyter: JupyterSpec = field(default_factory=JupyterSpec)
    environment: dict[str, str] = field(default_factory=dict)
    run_options: RunOptions = field(default_factory=RunOptions)
    limits: LimitsSpec = field(default_factory=LimitsSpec)
    gpu: GpuSpec = field(default_factory=GpuSpec)
    compile: CompileSpec = field(default_factory=CompileSpec)
    dataloader: DataLoaderSpec = field(default_factory=DataLoaderSpec)
    onnx: OnnxSpec = field(default_factory=OnnxSpec)
    ddp: DdpSpec = field(default_factory=DdpSpec)
    security: SecuritySpec = field(default_factory=SecuritySpec)
    checks: CheckPolicy = field(default_factory=CheckPolicy)
    regression: RegressionSpec = field(default_factory=RegressionSpec)
    size: SizeSpec = field(default_factory=SizeSpec)
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True)
class Catalog:
    """The loaded file: defaults and the listed images."""

    path: Path
    defaults: ImageSpec
    images: dict[str, ImageSpec]

    def default_refs(self) -> list[str]:
        """The images a run without --image validates: those not marked run_by_default: false."""
        return [ref for ref, spec in self.images.items() if spec.run_by_default]

    def spec_for(self, ref: str) -> tuple[ImageSpec, bool]:
        """The image's expectations and whether it is listed (else: the defaults)."""
        if ref in self.images:
            return self.images[ref], True
        return self.defaults, False


def default_images_file(rootpath: Path) -> Path:
    """The images file of a run without --images-file: images.yaml in the root folder, else
    the project's own (so a run elsewhere that loads the plugin still has one)."""
    here = Path(rootpath) / "images.yaml"
    return here if here.is_file() or not PROJECT_IMAGES_FILE.is_file() else PROJECT_IMAGES_FILE


def load(path: str | Path) -> Catalog:
    """Read and validate images.yaml; ConfigError names file, image, key and line on bad input."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror or error}); "
                          "hint: pass --images-file PATH or create images.yaml at the project root") from None
    loader = DuplicateKeyLoader(text)
    try:
        raw = loader.get_single_data()
    except DuplicateKey as duplicate:
        raise ConfigError(_duplicate_message(path, duplicate)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys 'defaults' and 'images', "
                          f"got {_kind(raw)}")
    _reject_unknown(raw, {"defaults", "images"}, _Place(path, "", (), loader.lines), "top level")
    defaults_raw = {} if raw.get("defaults") is None else raw["defaults"]  # written empty: none
    images_raw = {} if raw.get("images") is None else raw["images"]
    if not isinstance(defaults_raw, dict):
        raise ConfigError(f"{path}: defaults: expected a mapping, got {_kind(defaults_raw)}")
    if not isinstance(images_raw, dict):
        raise ConfigError(f"{path}: images: expected a mapping of image reference to its promises, "
                          f"got {_kind(images_raw)}")
    in_defaults = _Place(path, "defaults", ("defaults",), loader.lines)
    _build(ImageSpec, defaults_raw, in_defaults, "", partial=True)  # errors name the defaults
    defaults = _build(ImageSpec, defaults_raw, in_defaults, "")
    images = {}
    for ref, entry in images_raw.items():
        in_image = _Place(path, f"image '{ref}'", ("images", str(ref)), loader.lines)
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{path}: images: expected image references as keys, got {ref!r}")
        problem = image_reference.problem(ref)
        if problem:
            raise ConfigError(f"{in_image}: not a valid image reference: {problem}{in_image.line('')}; "
                              "expected a reference such as pytorch-cuda:v2.6, "
                              "registry.example.com:5000/team/pytorch-cuda:v2.6 or REPO@sha256:<64 hex digits>; "
                              "hint: write the key as docker names the image (lower-case repository, no spaces)")
        entry = {} if entry is None else entry  # an image listed with no promises of its own
        if not isinstance(entry, dict):
            raise ConfigError(f"{in_image}: expected a mapping of promises, got {_kind(entry)}{in_image.line('')}")
        _build(ImageSpec, entry, in_image, "", partial=True)  # errors name the image
        images[ref] = _build(ImageSpec, _merge(defaults_raw, entry), in_image, "")
    return Catalog(path, defaults, images)


class DuplicateKey(yaml.constructor.ConstructorError):
    """A key written twice in one mapping: where (the keys leading to the mapping), the key,
    and both lines and values as the file wrote them."""

    def __init__(self, mapping_path: tuple[str, ...], key: str, first: yaml.Node, second: yaml.Node,
                 first_value: yaml.Node, second_value: yaml.Node) -> None:
        super().__init__("while constructing a mapping", first.start_mark,
                         f"found duplicate key {key!r}", second.start_mark)
        self.mapping_path, self.key = mapping_path, key
        self.first_line, self.second_line = first.start_mark.line + 1, second.start_mark.line + 1
        self.first_value, self.second_value = _shown(first_value), _shown(second_value)


class DuplicateKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key written twice in one mapping (YAML would keep the
    last one without a word) and records the line of every key (`lines`, by the path of
    keys from the top, for messages). Merge keys (`<<: *anchor`) keep working: an entry
    may override what it merges in."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[tuple[str, ...], int] = {}
        self._inspected: set[int] = set()

    def construct_document(self, node: yaml.Node) -> Any:
        self._inspect(node, ())
        return super().construct_document(node)

    def _inspect(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        """Refuse duplicate keys in node and below, recording key lines under path. Each
        node is inspected once (an alias is the same node: no blow-up on nested aliases)."""
        if id(node) in self._inspected:
            return
        self._inspected.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._inspect(item, path + (f"[{index}]",))
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._inspect(value_node, path)  # what it merges in: an anchor, or a mapping written here
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self._key(key_node)
                if key in seen:
                    first_key, first_value = seen[key]
                    raise DuplicateKey(path, str(key), first_key, key_node, first_value, value_node)
                seen[key] = (key_node, value_node)
            for key_node, value_node in self._effective_pairs(node):
                child = path + (str(self._key(key_node)),) if isinstance(key_node, yaml.ScalarNode) else path
                self.lines[child] = key_node.start_mark.line + 1
                self._inspect(value_node, child)

    def _key(self, key_node: yaml.ScalarNode) -> Any:
        try:
            key = self.construct_object(key_node)
            hash(key)
            return key
        except (yaml.YAMLError, TypeError):
            return key_node.value

    def _effective_pairs(self, node: yaml.MappingNode, depth: int = 0) -> list[tuple[yaml.Node, yaml.Node]]:
        """The pairs a mapping ends up with: what it merges in first, its own keys after (they win)."""
        merged, own = [], []
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                own.append((key_node, value_node))
            elif depth < 32:  # a merge chain deeper than that is left to the constructor to judge
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        merged.extend(self._effective_pairs(source, depth + 1))
        return merged + own


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _duplicate_message(path: Path, duplicate: DuplicateKey) -> str:
    """A key written twice, said where the other messages say it: the top level, the
    images mapping (an image listed twice), the defaults or an image, and the key."""
    keys = duplicate.mapping_path + (duplicate.key,)
    lines = f"line {duplicate.first_line} and line {duplicate.second_line}"
    if keys[:1] == ("images",) and len(keys) == 2:
        where = f"{path}: images: image '{duplicate.key}' is listed twice ({lines})"
    elif keys[:1] == ("images",) and len(keys) > 2:
        where = f"{path}: image '{keys[1]}', key '{'.'.join(keys[2:])}': written twice ({lines})"
    elif keys[:1] == ("defaults",) and len(keys) > 1:
        where = f"{path}: defaults, key '{'.'.join(keys[1:])}': written twice ({lines})"
    else:
        where = f"{path}: key '{'.'.join(keys)}': written twice ({lines})"
    return (f"{where}; expected each key once in a mapping, observed {duplicate.first_value} "
            f"then {duplicate.second_value} (YAML would keep the last and drop the first without a word); "
            "hint: delete the one you do not mean")


@dataclass(frozen=True)
class _Place:
    """Where a value sits, for messages: the file, the section (defaults, an image) and
    the YAML lines of its keys (DuplicateKeyLoader.lines)."""

    path: Path
    section: str
    keys: tuple[str, ...]
    lines: Mapping[tuple[str, ...], int]

    def __str__(self) -> str:
        return f"{self.path}: {self.section}" if self.section else str(self.path)

    def line(self, key: str) -> str:
        """' (line N)' of the dotted key (or the closest section above it YAML knows), or ''."""
        parts = tuple(p for p in re.sub(r" \(key .*\)$|\[\d+\]", "", key).split(".") if p)
        for end in range(len(parts), -1, -1):
            number = self.lines.get(self.keys + parts[:end])
            if number:
                return f" (line {number})"
        return ""


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("ports", "environment"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, raw: dict, where: _Place, prefix: str, partial: bool = False) -> Any:
    """The dataclass from raw; with partial, only check what raw holds (an entry that the
    defaults complete may leave required keys out) and build nothing."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    _reject_unknown(raw, set(names), where, prefix or "top level", ordered=names)
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if f.name in raw:
            values[f.name] = _convert(hints[f.name], raw[f.name], where, key, partial)
            _check_declared(f, hints[f.name], values[f.name], where, key)
        elif not partial and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}, key '{key}': missing; expected {_describe(hints[f.name])}{where.line(key)}")
    return None if partial else cls(**values)


def _check_declared(f: dataclasses.Field, annotation: Any, value: Any, where: _Place, key: str) -> None:
    """The one place a field's declared limits are checked: `choices`, `bounds` (a number),
    `key_bounds` (the keys of a mapping) and `pattern` (a string). null passes: not promised."""
    if value is None:
        return
    choices, bounds, key_bounds, pattern = (f.metadata.get(name) for name in ("choices", "bounds", "key_bounds",
                                                                                "pattern"))
    hint = f.metadata.get("hint") or _default_hint(f)
    if choices and value not in choices:
        raise ConfigError(f"{where}, key '{key}': expected one of {', '.join(choices)}, "
                          f"got {_kind(value)}{where.line(key)}")
    if bounds and not bounds.admits(value):
        unit = f" ({f.metadata['unit']})" if "unit" in f.metadata else ""
        raise ConfigError(f"{where}, key '{key}': expected {_describe(_plain(annotation))} {bounds.describe()}{unit}, "
                          f"got {_kind(value)}{where.line(key)}; hint: {hint}")
    if key_bounds:
        for item in value:
            if not key_bounds.admits(item):
                raise ConfigError(f"{where}, key '{key}.{item}': expected {f.metadata.get('key_is', 'a key')} "
                                  f"{key_bounds.describe()}, got {_kind(item)}{where.line(f'{key}.{item}')}; hint: {hint}")
    if pattern and not pattern.admits(value):
        raise ConfigError(f"{where}, key '{key}': expected {pattern.expected}, got {_kind(value)}{where.line(key)}; "
                          f"hint: {hint}")


def _default_hint(f: dataclasses.Field) -> str:
    if f.default in (dataclasses.MISSING, None):
        return "correct the value, or leave the key out (not promised)" if f.default is None else "correct the value"
    return f"correct the value, or leave the key out for the built-in default ({f.default})"


def _plain(annotation: Any) -> Any:
    """The annotation without its `| None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)][0]
    return annotation


def _convert(annotation: Any, value: Any, where: _Place, key: str, partial: bool = False) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, key, partial)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise _wrong(annotation, value, where, key)
        return _build(annotation, value, where, f"{key}.", partial)
    if origin is list:
        if not isinstance(value, list):
            raise _wrong(annotation, value, where, key)
        return [_convert(args[0], item, where, f"{key}[{i}]", partial) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(annotation, value, where, key)
        return {_convert(args[0], k, where, f"{key} (key {k!r})", partial): _convert(args[1], v, where, f"{key}.{k}",
                                                                                       partial)
                for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise _wrong(annotation, value, where, key)
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(annotation, value, where, key)
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong(annotation, value, where, key)
        return float(value)
    if annotation is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ConfigError(f"{where}, key '{key}': expected a string, got the number {value!r}{where.line(key)}; "
                              f"hint: quote it (\"{value}\"), YAML reads 3.10 as the number 3.1")
        if not isinstance(value, str):
            raise _wrong(annotation, value, where, key)
        return value
    raise TypeError(f"unsupported annotation {annotation!r}")  # a defect in this module


def _reject_unknown(raw: dict, allowed: set[str], where: _Place, section: str,
                    ordered: list[str] | None = None) -> None:
    for key in raw:
        if key not in allowed:
            prefixes = sorted((k for k in allowed if str(key).startswith(k)), key=len, reverse=True)
            close = prefixes or difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            listing = ", ".join(ordered or sorted(allowed))
            place = "here" if section == "top level" else f"in {section.rstrip('.')}"
            dotted = _dotted(section, key)
            raise ConfigError(f"{where}, key '{dotted}': unknown key{hint} "
                              f"(allowed {place}: {listing}){where.line(dotted)}")


def _dotted(section: str, key: Any) -> str:
    return str(key) if section in ("top level", "") else f"{section}{key}"


def _wrong(annotation: Any, value: Any, where: _Place, key: str) -> ConfigError:
    return ConfigError(f"{where}, key '{key}': expected {_describe(annotation)}, got {_kind(value)}{where.line(key)}")


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"{_describe(inner[0])} or null"
    if dataclasses.is_dataclass(annotation):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(annotation))}"
    if origin is list:
        return f"a list of {_PLURALS.get(args[0], _describe(args[0]))}"
    if origin is dict:
        return f"a mapping of {_PLURALS.get(args[0])} to {_PLURALS.get(args[1])}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(annotation, str(annotation))


_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
