"""What a distributed run left behind, judged: every rank's outcome and every node's, which
rank stalled when the run was killed, the checks' judgments of the ranks' results
(all_reduce, identical parameters and gradients, the loss curve), and the message that
explains a failed run. Pure: the runs themselves are image/torchrun.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import explain
from . import nccl_transport
from .ddp_plan import Plan, bus_bandwidth_gbps


# ---- what a run leaves ------------------------------------------------------------------------
@dataclass
class RankOutcome:
    """What one rank left: its steps, its result (None if it never finished), its log lines."""

    rank: int
    node: int
    phases: list[dict]
    result: dict | None
    log_tail: list[str]
    comm_tail: list[str]
    transport_lines: list[str] = field(default_factory=list)  # NCCL's "via ..." lines

    @property
    def last_phase(self) -> str | None:
        return self.phases[-1]["phase"] if self.phases else None

    @property
    def progress(self) -> int:
        return self.phases[-1].get("seq", len(self.phases)) if self.phases else 0


@dataclass
class NodeOutcome:
    """One node: where it ran, its address, and how its torchrun ended."""

    node: int
    where: str
    address: str
    container_id: str = ""
    exit_code: int | None = None     # None: killed at the limit
    output: str = ""                 # torchrun's own last lines
    timed_out: bool = False
    collect_error: str | None = None
    clock: float | None = None       # the node's time.time() when its results were read


@dataclass
class DistributedRun:
    """A finished (or killed) run: the plan, every rank's outcome, every node's, and why it
    failed (None when torchrun ended well on every node and every rank reported)."""

    image: str
    plan: Plan
    limit: float
    network: str
    steps: int = 0
    endpoint: str | None = None
    network_name: str | None = None
    ranks: dict[int, RankOutcome] = field(default_factory=dict)
    nodes: list[NodeOutcome] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None

    def transports(self) -> list[str]:
        """The transports NCCL named in any rank's log (rules/nccl_transport.py)."""
        return nccl_transport.transports([line for r in self.ranks.values() for line in r.transport_lines])

    def bandwidth_gbps(self) -> float | None:
        """The bus bandwidth of rank 0's all_reduce, in GB/s (None when it reported none)."""
        figure = ((self.ranks.get(0) and self.ranks[0].result) or {}).get("bandwidth")
        if not figure:
            return None
        return bus_bandwidth_gbps(figure["bytes"], figure["seconds_per_op"], figure["world_size"])

    def results(self) -> dict[int, dict]:
        """Every rank's result, by rank (only meaningful when failure is None)."""
        return {rank: outcome.result for rank, outcome in sorted(self.ranks.items()) if outcome.result}

    def evidence(self) -> dict:
        return {"plan": self.plan.describe(), "why": self.plan.why, "network": self.network,
                "rendezvous": self.endpoint or "standalone (one node)",
                "seconds": round(self.seconds, 1), "limit_s": self.limit,
                "network_name": self.network_name,
                "nodes": [{"node": n.node, "where": n.where, "address": n.address, "container_id": n.container_id,
                           "gpus": list(self.plan.nodes[n.node].indices)} for n in self.nodes]}


@dataclass(frozen=True)
class Stall:
    """Which ranks stalled, and one line per rank saying where each one was."""

    stalled: tuple[int, ...]
    every_rank: bool
    lines: tuple[str, ...]
    reached_nothing: bool = False  # no rank recorded a single step

    def summary(self) -> str:
        if not self.stalled:
            return "no rank was planned"
        names = ", ".join(str(r) for r in self.stalled)
        if self.reached_nothing:
            return f"no rank reached the worker script (ranks {names}): none reported a step"
        if self.every_rank:
            return f"every rank stopped at the same step (ranks {names}): a collective that never completed"
        return f"rank {names} stalled" if len(self.stalled) == 1 else f"ranks {names} stalled"


def diagnose(world: int, ranks: dict[int, RankOutcome], clocks: dict[int, float | None] | None = None) -> Stall:
    """Name the stalled ranks of a killed run: those that got least far (fewest steps
    recorded); a rank with no step at all never reached the worker script."""
    clocks = clocks or {}
    reached = {rank: ranks[rank].progress if rank in ranks else 0 for rank in range(world)}
    if not reached:
        return Stall((), False, ())
    low, high = min(reached.values()), max(reached.values())
    stalled = tuple(rank for rank, value in reached.items() if value == low)
    lines = []
    for rank in range(world):
        outcome = ranks.get(rank)
        if outcome is None or not outcome.phases:
            lines.append(f"rank {rank}: no step recorded: it never reached the worker script "
                         "(stuck at interpreter start, or never started)")
            continue
        last = outcome.phases[-1]
        now = clocks.get(outcome.node)
        since = f" for {now - last['t']:.0f} s" if now and last.get("t") else ""
        state = "stalled" if rank in stalled and low != high else "waiting"
        lines.append(f"rank {rank} (node {outcome.node}): {state} in '{last['phase']}'{since} "
                     f"({last.get('seq', len(outcome.phases))} steps recorded)")
    return Stall(stalled, low == high, tuple(lines), reached_nothing=high == 0)


# ---- judging the ranks' results (pure: the checks call these) -------------------------------
def all_reduce_errors(results: dict[int, dict]) -> list[str]:
    """One line per rank whose all_reduce result was wrong (or missing)."""
    errors = []
    for rank, result in sorted(results.items()):
        check = result.get("all_reduce") or {}
        if not check.get("ok"):
            first, last = check.get("first") or ["?", "?"], check.get("last") or ["?", "?"]
            errors.append(f"rank {rank}: {check.get('wrong_elements', '?')} of {check.get('elements', '?')} elements "
                          f"wrong (first: got {first[0]}, expected {first[1]}; last: got {last[0]}, expected {last[1]})")
    return errors


def step_disagreements(results: dict[int, dict]) -> list[str]:
    """Where the ranks do not hold identical parameters and gradients after a DDP step:
    digests that differ from rank 0's, or a nonzero difference to rank 0's tensors."""
    problems = []
    steps = {rank: (result.get("ddp") or {}).get("steps") or [] for rank, result in results.items()}
    counts = {rank: len(s) for rank, s in steps.items()}
    if len(set(counts.values())) > 1 or not any(counts.values()):
        return [f"ranks recorded different numbers of DDP steps: {counts}"]
    reference = steps[min(steps)]
    for index, first in enumerate(reference):
        for what in ("param", "grad"):
            digests = {rank: s[index][f"{what}_digest"] for rank, s in steps.items()}
            diffs = {rank: s[index][f"{what}_max_diff_to_rank0"] for rank, s in steps.items()}
            name = "parameters" if what == "param" else "gradients"
            if len(set(digests.values())) > 1:
                problems.append(f"step {first['step']}: {name} differ between ranks (digests {digests})")
            elif any(d != 0 for d in diffs.values()):
                problems.append(f"step {first['step']}: {name} differ from rank 0's by up to "
                                f"{max(diffs.values()):.3g}")
    return problems


def loss_curve(results: dict[int, dict]) -> tuple[list[float], list[str]]:
    """The mean loss over all ranks after each step (as rank 0 saw it), and where ranks
    disagree on it (they all_reduce the same numbers, so they must not)."""
    curves = {rank: [s["mean_loss"] for s in (result.get("ddp") or {}).get("steps") or []]
              for rank, result in sorted(results.items())}
    if not curves:
        return [], ["no rank reported a loss"]
    reference = curves[min(curves)]
    problems = [f"rank {rank} saw mean losses {curve}, rank {min(curves)} saw {reference}"
                for rank, curve in curves.items() if curve != reference]
    return reference, problems


# ---- explaining a failed run -----------------------------------------------------------------
def failure_message(run: DistributedRun) -> str | None:
    plan = run.plan
    expected = (f"{plan.world} ranks ({plan.describe()}) finish init_process_group, an all_reduce, "
                f"{run.steps} DDP steps{' and the bandwidth run' if plan.bandwidth_bytes else ''}")
    where = "; ".join(f"{n.where} (node {n.node})" for n in run.nodes)
    timed_out = [n for n in run.nodes if n.timed_out]
    if timed_out:
        stall = diagnose(plan.world, run.ranks, {n.node: n.clock for n in run.nodes})
        observed = "\n    ".join([stall.summary() + ":", *stall.lines])
        return explain(
            f"torchrun in {run.image} did not finish within its {run.limit:.0f} s limit (images.yaml "
            f"timeouts.ddp) and was killed: {stall.summary()}",
            expected=expected, observed=observed + "\n  " + _last_lines(run),
            where=where,
            hint="a rank that stalls before a collective leaves every other rank waiting in it; the run's "
                 "processes were killed and its containers removed. If the image is only slow, raise "
                 "timeouts.ddp in images.yaml")
    failed = [n for n in run.nodes if n.exit_code not in (0, None)]
    missing = [r for r in range(plan.world) if r not in run.ranks or not run.ranks[r].result]
    errors = [r for r, o in sorted(run.ranks.items()) if o.result and not o.result.get("ok")]
    if not failed and not missing and not errors:
        return None
    lines = []
    for rank in errors:
        result = run.ranks[rank].result
        lines.append(f"rank {rank} failed in '{result.get('failed_in')}': {result.get('error')}")
        lines += [f"      {line}" for line in (result.get("traceback_tail") or [])[-4:]]
    for rank in missing:
        if rank not in errors:
            last = run.ranks[rank].last_phase if rank in run.ranks else None
            lines.append(f"rank {rank}: no result" + (f" (last step '{last}')" if last else " (no step recorded)"))
    for node in failed:
        lines.append(f"torchrun on node {node.node} exited with {node.exit_code}; its last lines:\n"
                     + _indent(node.output, 6))
    for node in run.nodes:
        if node.collect_error:
            lines.append(f"the ranks' files on node {node.node} could not be read: {node.collect_error}")
    return explain(f"torchrun in {run.image} failed ({plan.describe()})", expected=expected,
                   observed="\n    ".join(lines) + "\n  " + _last_lines(run), where=where,
                   hint="the first failing rank's error is usually the cause; the others stop with it")


def _last_lines(run: DistributedRun) -> str:
    """The last NCCL / gloo / c10d lines of every rank, else its last log lines."""
    parts = ["last NCCL/gloo lines of each rank (NCCL_DEBUG=INFO):"]
    for rank in range(run.plan.world):
        outcome = run.ranks.get(rank)
        lines = (outcome.comm_tail or outcome.log_tail)[-6:] if outcome else []
        parts.append(f"    rank {rank}:" + ("".join(f"\n      {line[:300]}" for line in lines) if lines
                                             else " (nothing logged)"))
    agents = [n for n in run.nodes if n.output]
    for node in agents:
        parts.append(f"    torchrun on node {node.node}:\n{_indent(_last_of(node.output, 8), 6)}")
    return "\n".join(parts)


def _last_of(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def printed(timeout_message: str) -> str:
    """The lines a killed command printed last, out of CommandTimeout's message."""
    _, found, rest = timeout_message.partition("last lines it printed:\n")
    return rest.split("\n  where:")[0] if found else timeout_message


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line[:300] for line in (text or "(nothing printed)").splitlines())
