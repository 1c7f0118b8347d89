"""/dev/shm and the DataLoader: how much shared memory a DataLoader holds in flight, how
its workers die when /dev/shm is too small, and which run option an image needs.

Docker gives a container a 64 MB /dev/shm unless `--shm-size` or `--ipc=host` says
otherwise; DataLoader workers pass every batch through it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import DataLoaderSpec, RunOptions

DOCKER_DEFAULT_SHM_MIB = 64
PREFETCH_FACTOR = 2  # DataLoader's default: batches each worker keeps ready
_SHM_SIGNS = ("bus error", "shared memory", "no space left on device", "unable to write to file </torch_",
              "unable to allocate", "exited unexpectedly")


def in_flight_mib(spec: DataLoaderSpec) -> float:
    """Shared memory the DataLoader holds at once: every worker's prefetched batches."""
    return spec.num_workers * PREFETCH_FACTOR * spec.batch_size * spec.sample_mib


def remedy_shm_size(spec: DataLoaderSpec) -> str:
    """A --shm-size with room for the batches in flight (twice them, whole GiB)."""
    return f"{max(1, math.ceil(2 * in_flight_mib(spec) / 1024))}g"


def documented_option(options: RunOptions) -> str | None:
    """The run options images.yaml documents that give /dev/shm room, as docker flags."""
    flags = []
    if options.shm_size:
        flags.append(f"--shm-size {options.shm_size}")
    if options.ipc:
        flags.append(f"--ipc={options.ipc}")
    return " ".join(flags) or None


def looks_like_shm_exhaustion(result: dict) -> bool:
    """Whether a failed DataLoader run died the way a full /dev/shm kills it."""
    text = " ".join([str(result.get("error", "")), str(result.get("error_last_line", ""))]
                    + list(result.get("traceback_tail") or [])).lower()
    return any(sign in text for sign in _SHM_SIGNS)


@dataclass(frozen=True)
class Verdict:
    """The finding: whether the check passes and what it says."""

    ok: bool
    finding: str


def judge(image_ref: str, spec: DataLoaderSpec, options: RunOptions, documented: dict, default: dict | None,
          remedy: dict | None) -> Verdict:
    """Judge the runs: with the documented options, with Docker's defaults (None when the
    image documents no option, so both are one run), and with a generous --shm-size
    (None when not tried)."""
    flags = documented_option(options)
    size = remedy_shm_size(spec)
    load = f"{spec.num_workers} workers x {PREFETCH_FACTOR} batches x {spec.batch_size} x {spec.sample_mib} MiB " \
           f"= {in_flight_mib(spec):.0f} MiB in flight"
    if documented.get("ok"):
        if default is None or default.get("ok"):
            return Verdict(True, f"the DataLoader ({load}) works with Docker's default {DOCKER_DEFAULT_SHM_MIB} MB "
                                 "/dev/shm: the image needs no run option for it")
        return Verdict(True, f"the DataLoader ({load}) needs {flags}, which images.yaml documents: it works "
                             f"with it and fails under Docker's default {DOCKER_DEFAULT_SHM_MIB} MB /dev/shm "
                             f"({_short(default)})")
    shm_cause = looks_like_shm_exhaustion(documented)
    fixed = remedy is not None and remedy.get("ok")
    if flags is None:
        if fixed:
            return Verdict(False, f"the DataLoader ({load}) fails under Docker's default {DOCKER_DEFAULT_SHM_MIB} MB "
                                  f"/dev/shm ({_short(documented)}) and works with --shm-size {size}; images.yaml "
                                  f"documents no run option for {image_ref}\n  hint: document it: "
                                  f"run_options: {{shm_size: {size}}} (or ipc: host)")
        return Verdict(False, f"the DataLoader ({load}) fails in {image_ref} ({_short(documented)})"
                              + (f", and also with --shm-size {size}" if remedy is not None else ""))
    if fixed:
        return Verdict(False, f"the DataLoader ({load}) fails with the documented {flags} ({_short(documented)}) "
                              f"and works with --shm-size {size}\n  hint: images.yaml's run_options are too small "
                              "for this load; document a larger shm_size (or ipc: host)")
    return Verdict(False, f"the DataLoader ({load}) fails with the documented {flags} in {image_ref}: "
                          f"{_short(documented)}" + (" (it looks like /dev/shm ran out)" if shm_cause else ""))


def _short(result: dict) -> str:
    """The error's last line: for an error raised in a worker, the worker's own exception."""
    first = str(result.get("error") or "no error text").strip().splitlines()[0]
    last = result.get("error_last_line")
    return (first if not last or last in first else f"{first} ... {last}")[:400]
