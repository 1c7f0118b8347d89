"""Commands run as `docker run IMAGE COMMAND...` runs them: through the image's own
ENTRYPOINT, in a fresh labelled container that is removed afterwards.

Two limits bound such a run: the command must show that it started (print a marker)
within timeouts.start, so an entrypoint that swallows the command is reported as that and
not as a slow command; and the whole run must end within its own limit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import docker.errors

from ..errors import CommandTimeout, ImagecheckError, explain
from ..runtime.readiness import wait_until
from ..runtime.target import ExecResult
from . import probes

if TYPE_CHECKING:
    from .under_test import ImageUnderTest

POLL_SECONDS = 0.3
STARTED_MARKER = "imagecheck-command-started"
ALL_LINES = 100_000


class CommandNotRun(ImagecheckError):
    """The image's entrypoint did not run the command it was given."""


def run(image: ImageUnderTest, role: str, command: list[str], *, timeout: float, user: str | None = None,
        started_marker: str = STARTED_MARKER, with_probes: bool = False) -> ExecResult:
    """Run command through the image's entrypoint; how it ended (exit code, output, seconds).
    CommandNotRun when started_marker does not appear in its output within timeouts.start,
    CommandTimeout past timeout. A python command (or the probes) first needs the image's
    python to start at all (image.require_python: one cause, not one timeout per check)."""
    if with_probes or command[:1] and command[0].rsplit("/", 1)[-1].startswith("python"):
        image.require_python()
    start_limit = image.spec.timeouts.start
    container = image.new_container(role, gpu=image.no_gpu, command=command, user=user, autostart=False,
                                    stay_up=False, network_mode="none")
    shown = " ".join(command)
    with container:
        if with_probes:
            probes.install(container)
        container.start()
        seen = {"start": False, "state": {}}

        def exited(elapsed: float) -> bool:
            seen["state"] = state = container.reload().get("State") or {}
            if not seen["start"]:
                seen["start"] = started_marker in container.logs(ALL_LINES)
            if not seen["start"] and elapsed > start_limit and state.get("Status") not in ("exited", "dead"):
                raise CommandNotRun(explain(
                    f"the entrypoint of {image.ref} did not run the command it was given",
                    expected=f"`{shown}` starts within timeouts.start ({start_limit} s), as `docker run IMAGE "
                             "COMMAND` promises",
                    observed=f"after {elapsed:.0f} s the container runs instead:\n{_processes(container)}\n"
                             f"  last log lines:\n{container.logs(10).strip() or '(none)'}",
                    where=container.name,
                    hint="end the entrypoint script with `exec \"$@\"`, so the command (or the default CMD) runs"))
            return state.get("Status") in ("exited", "dead")

        waited = wait_until(exited, timeout=timeout, poll=POLL_SECONDS)
        if not waited.done:
            raise CommandTimeout(explain(
                f"`{shown}` through the entrypoint of {image.ref} ran past its {timeout:.0f} s limit",
                observed=f"last log lines:\n{container.logs(15).strip() or '(none)'}", where=container.name,
                hint="raise the limit in images.yaml (timeouts) if the image is just slow"))
        state, seen_start, seconds = seen["state"], seen["start"], waited.seconds
        stdout = container.logs(ALL_LINES, stdout=True, stderr=False)
        stderr = container.logs(ALL_LINES, stdout=False, stderr=True)
        exit_code = state.get("ExitCode", -1)
        result = ExecResult(list(command), exit_code, stdout, stderr, seconds)
        if not seen_start:
            raise CommandNotRun(explain(
                f"the entrypoint of {image.ref} did not run the command it was given",
                expected=f"`{shown}` runs",
                observed=f"the container exited with code {exit_code} after {seconds} s without running it; "
                         f"last log lines:\n{result.tail(12)}",
                where=container.name,
                hint="end the entrypoint script with `exec \"$@\"`, so the command (or the default CMD) runs"))
    return result


def _processes(container) -> str:
    try:
        top = container.client.api.top(container.id, ps_args="-o pid,uid,args")
    except docker.errors.APIError as error:
        return f"    (processes unavailable: {error})"
    lines = ["    " + "  ".join(str(v) for v in row) for row in top.get("Processes") or []]
    return "\n".join(lines[:12]) or "    (no process)"
