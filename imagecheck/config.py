"""images.yaml: the images and what each promises, loaded into typed, frozen records.

The file has two top-level keys: `defaults` (applies to every image) and `images` (one
entry per image reference). An image's entry is merged over the defaults key by key
(nested sections merge, lists replace). Unknown keys and wrong types are rejected with
the file, the image and the key in the message. Expectations come only from here, never
from parsing an image's tag.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


# CVE severities, lowest first, as trivy and grype name them.
SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True)
class UserSpec:
    """The image's default user."""

    name: str
    uid: int
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    """Run options the image documents (`docker run --shm-size ... --ipc ...`)."""

    shm_size: str | None = None
    ipc: str | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each kind of work in a container."""

    start: int = 60
    command: int = 120
    probe: int = 300
    compile: int = 1500
    dataloader: int = 300
    ddp: int = 300
    service_ready: int = 120


@dataclass(frozen=True)
class LimitsSpec:
    """Bounds on every container the suite starts of the image (a hostile or broken image
    cannot take the host down): the processes and threads it may run, its memory, and
    whether a process in it may gain privileges (setuid binaries, file capabilities)."""

    pids: int = 4096                 # tasks (processes and threads); torch.compile and DDP need hundreds
    memory: str | None = None        # docker's --memory (e.g. "48g"); null: three quarters of the host's memory
    no_new_privileges: bool = True


@dataclass(frozen=True)
class GpuSpec:
    """What the image needs of the host's GPUs."""

    min_gpus: int = 1
    compute_capability_min: str | None = None


@dataclass(frozen=True)
class CompileSpec:
    """torch.compile on torchvision models (built with weights=None)."""

    gpu_models: list[str] = field(default_factory=lambda: [
        "resnet50", "mobilenet_v3_large", "swin_t", "vit_b_16", "convnext_tiny"])
    cpu_models: list[str] = field(default_factory=lambda: ["resnet18"])
    atol: float = 5e-2
    rtol: float = 5e-2
    batch_size: int = 2
    steady_iterations: int = 10


@dataclass(frozen=True)
class DataLoaderSpec:
    """A multi-worker DataLoader with pin_memory and persistent workers."""

    num_workers: int = 4
    batch_size: int = 32
    sample_mib: float = 1.0
    batches: int = 8


@dataclass(frozen=True)
class OnnxSpec:
    """ONNX export of a torchvision model, when the image promises it."""

    opset: int | None = None
    model: str = "resnet18"


@dataclass(frozen=True)
class DdpSpec:
    """DDP over NCCL (GPU) or gloo (CPU) with torchrun inside the image."""

    model: str = "resnet18"
    steps: int = 4
    min_bus_bandwidth_gbps: float | None = None
    bandwidth_bytes: int = 1 << 30
    batch_size: int = 8              # per rank, of image_size x image_size RGB images
    image_size: int = 64
    cpu_processes: int = 2           # gloo on CPU when fewer than 2 GPUs are granted
    cpu_bandwidth_bytes: int = 1 << 24


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

    max_perf_drop: float = 0.2


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
    ports: dict[int, str] = field(default_factory=dict)
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


def load(path: str | Path) -> Catalog:
    """Read and validate images.yaml; ConfigError names file, image and key on bad input."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror or error}); "
                          "hint: pass --images-file PATH or create images.yaml at the project root") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys 'defaults' and 'images', "
                          f"got {_kind(raw)}")
    _reject_unknown(raw, {"defaults", "images"}, f"{path}", "top level")
    defaults_raw = raw.get("defaults") or {}
    images_raw = raw.get("images") or {}
    if not isinstance(defaults_raw, dict):
        raise ConfigError(f"{path}: defaults: expected a mapping, got {_kind(defaults_raw)}")
    if not isinstance(images_raw, dict):
        raise ConfigError(f"{path}: images: expected a mapping of image reference to its promises, "
                          f"got {_kind(images_raw)}")
    _build(ImageSpec, defaults_raw, f"{path}: defaults", "", partial=True)  # errors name the defaults
    defaults = _build(ImageSpec, defaults_raw, f"{path}: defaults", "")
    images = {}
    for ref, entry in images_raw.items():
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{path}: images: expected image references as keys, got {ref!r}")
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: image '{ref}': expected a mapping of promises, got {_kind(entry)}")
        _build(ImageSpec, entry, f"{path}: image '{ref}'", "", partial=True)  # errors name the image
        images[ref] = _build(ImageSpec, _merge(defaults_raw, entry), f"{path}: image '{ref}'", "")
    return Catalog(path, defaults, images)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("ports", "environment"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, raw: dict, where: str, prefix: str, partial: bool = False) -> Any:
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
            choices = f.metadata.get("choices")
            if choices and values[f.name] not in choices:
                raise ConfigError(f"{where}, key '{key}': expected one of {', '.join(choices)}, "
                                  f"got {_kind(values[f.name])}")
        elif not partial and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}, key '{key}': missing; expected {_describe(hints[f.name])}")
    return None if partial else cls(**values)


def _convert(annotation: Any, value: Any, where: str, key: str, partial: bool = False) -> Any:
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
            raise ConfigError(f"{where}, key '{key}': expected a string, got the number {value!r}; "
                              f"hint: quote it (\"{value}\"), YAML reads 3.10 as the number 3.1")
        if not isinstance(value, str):
            raise _wrong(annotation, value, where, key)
        return value
    raise TypeError(f"unsupported annotation {annotation!r}")  # a defect in this module


def _reject_unknown(raw: dict, allowed: set[str], where: str, section: str, ordered: list[str] | None = None) -> None:
    for key in raw:
        if key not in allowed:
            prefixes = sorted((k for k in allowed if str(key).startswith(k)), key=len, reverse=True)
            close = prefixes or difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            listing = ", ".join(ordered or sorted(allowed))
            place = "here" if section == "top level" else f"in {section.rstrip('.')}"
            raise ConfigError(f"{where}, key '{_dotted(section, key)}': unknown key{hint} "
                              f"(allowed {place}: {listing})")


def _dotted(section: str, key: Any) -> str:
    return str(key) if section in ("top level", "") else f"{section}{key}"


def _wrong(annotation: Any, value: Any, where: str, key: str) -> ConfigError:
    return ConfigError(f"{where}, key '{key}': expected {_describe(annotation)}, got {_kind(value)}")


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
