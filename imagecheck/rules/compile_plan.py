"""How many torchvision models compile at once: compiling is CPU work (Dynamo, Inductor's
code generation, Triton's compiler), so the models compile in parallel processes where the
host has the cores for it, each with its share of Inductor's compile threads; the eager
and compiled timings are then taken one model at a time (the probe's barrier and timing
lock), so parallel compiles never touch the speedups. Pure."""
from __future__ import annotations

from dataclasses import dataclass

CORES_PER_COMPILE = 3  # below this, parallel compiles mostly wait for each other


@dataclass(frozen=True)
class CompilePlan:
    """Models compiled at once, Inductor's compile threads for each, out of the host's cores."""

    parallel: int
    compile_threads: int
    cores: int

    def describe(self) -> str:
        at_once = "one model at a time" if self.parallel == 1 else f"{self.parallel} models at once"
        return (f"compiles: {at_once} on {self.cores} core(s), {self.compile_threads} Inductor compile thread(s) "
                "each; eager and compiled timings: one model at a time, nothing else running")


def plan(models: int, cores: int) -> CompilePlan:
    """As many parallel compiles as the cores allow (CORES_PER_COMPILE each), at most one per model."""
    parallel = max(1, min(models, cores // CORES_PER_COMPILE))
    return CompilePlan(parallel, max(1, cores // parallel), max(1, cores))
