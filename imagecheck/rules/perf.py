"""Performance figures: one naming convention for the evidence keys that carry them.

A check that measures performance records each figure with `evidence(key, value)` under
a key of this form (record_perf() builds it):

    perf.<subject>.<measure>_<unit>

- `perf.` marks the value as a performance figure: the sign-off report lists it, charts
  compile speedups, and `--baseline` compares it with the earlier report;
- <subject> is what was measured, dotted: `compile.cuda.resnet50`, `all_reduce.2gpu`;
- <measure> names the figure: `speedup`, `compile`, `step`, `bus_bandwidth`;
- <unit> is the last `_` part and decides the direction, so a baseline knows whether a
  smaller number is a drop: s, ms (lower is better); x, gbps, tflops, ips (higher is better).

Examples: perf.compile.cuda.resnet50.speedup_x = 1.42 (steady-state eager time / compiled
time), perf.compile.cuda.resnet50.compile_s = 17.3 (first compiled call), perf.all_reduce.2gpu.
bus_bandwidth_gbps = 328.0. The value is a plain number (int or float).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PREFIX = "perf."
HIGHER = "higher"
LOWER = "lower"

# unit -> (direction, how the report writes it)
UNITS: dict[str, tuple[str, str]] = {
    "s": (LOWER, "s"),
    "ms": (LOWER, "ms"),
    "x": (HIGHER, "x"),
    "gbps": (HIGHER, "GB/s"),
    "tflops": (HIGHER, "TFLOP/s"),
    "ips": (HIGHER, "items/s"),
}

_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_MEASURE = re.compile(r"^[A-Za-z0-9]+(_[A-Za-z0-9]+)*$")


@dataclass(frozen=True)
class PerfKey:
    """A parsed performance key."""

    key: str
    subject: str
    measure: str
    unit: str

    @property
    def direction(self) -> str:
        return UNITS[self.unit][0]

    @property
    def unit_label(self) -> str:
        return UNITS[self.unit][1]


def perf_key(subject: str, measure: str, unit: str) -> str:
    """The evidence key for one figure: perf_key('compile.resnet50', 'speedup', 'x')."""
    if unit not in UNITS:
        raise ValueError(f"unknown performance unit {unit!r}; known: {', '.join(UNITS)}")
    if not _SUBJECT.match(subject):
        raise ValueError(f"performance subject {subject!r}: expected dotted words such as compile.resnet50")
    if not _MEASURE.match(measure):
        raise ValueError(f"performance measure {measure!r}: expected words joined by '_' such as bus_bandwidth")
    return f"{PREFIX}{subject}.{measure}_{unit}"


def record_perf(evidence: Any, subject: str, measure: str, value: float, unit: str) -> float:
    """Record one figure as evidence under its perf key; returns the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a performance figure is a number, got {value!r}")
    evidence(perf_key(subject, measure, unit), value)
    return value


def parse(key: str) -> PerfKey | None:
    """The parts of a perf key, or None when the key is not one (or its unit is unknown)."""
    if not key.startswith(PREFIX):
        return None
    subject, _, last = key[len(PREFIX):].rpartition(".")
    measure, _, unit = last.rpartition("_")
    if not subject or not measure or unit not in UNITS:
        return None
    return PerfKey(key, subject, measure, unit)


def as_number(value: Any) -> float | None:
    """A recorded figure as a float (JUnit and JSON may carry it as a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def drop(baseline: float, current: float, direction: str) -> float:
    """How much worse current is than baseline, as a fraction of baseline (0.25 = 25 % worse;
    negative when it improved)."""
    if baseline == 0:
        return 0.0
    change = (baseline - current) / abs(baseline)
    return change if direction == HIGHER else -change
