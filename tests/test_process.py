"""The process contract: PID 1 is an init that reaps orphaned children and passes
`docker stop`'s SIGTERM on (the container stops well within Docker's 10 s grace), and
`docker run IMAGE COMMAND` runs COMMAND."""
import secrets
import time

import pytest

from imagecheck.check import skip_for
from imagecheck.image import entrypoint
from imagecheck.image import services as services_module
from imagecheck.image.services import ServicesUnavailable

DOCKER_STOP_GRACE = 10      # Docker's default: SIGTERM, then SIGKILL this many seconds later
PROMPT_STOP = DOCKER_STOP_GRACE / 2
KILLED = 137                # 128 + SIGKILL: the grace ran out
REAP_WAIT = 5.0


def _pid1(container, timeout) -> str:
    result = container.exec(["cat", "/proc/1/cmdline"], timeout=timeout)
    return result.stdout.replace("\0", " ").strip() or "(unknown)"


def _state(container, pid: int, timeout) -> str | None:
    """The state letter of a process (Z: a zombie nobody reaped), None if it is gone."""
    result = container.exec(["cat", f"/proc/{pid}/stat"], timeout=timeout)
    if result.exit_code != 0:
        return None
    return result.stdout.rsplit(")", 1)[-1].split()[0]


@pytest.mark.services
def test_pid1_reaps_orphaned_children(image, services, evidence):
    timeout = image.spec.timeouts.command
    container = services.container
    pid1 = evidence("pid1", _pid1(container, timeout))
    # A child whose parent exits at once: it is re-parented to PID 1, which must reap it.
    spawned = container.exec(["/bin/sh", "-c", "sleep 0.5 & echo $!"], timeout=timeout)
    orphan = int(spawned.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + REAP_WAIT
    state = _state(container, orphan, timeout)
    while state is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        state = _state(container, orphan, timeout)
    evidence("pid1.orphan_state", state or "reaped")
    assert state is None, (
        f"an orphaned child (pid {orphan}) of {image.ref} was still {'a zombie' if state == 'Z' else 'state ' + state} "
        f"{REAP_WAIT:.0f} s after it exited: PID 1 ({pid1}) does not reap children"
        "\n  hint: run an init as PID 1 (ENTRYPOINT [\"tini\", \"--\", ...], or `docker run --init`)")


@pytest.mark.slow
@pytest.mark.services
def test_docker_stop_is_prompt(image, evidence):
    """A fresh services container (its services up) stops on `docker stop` well within
    the grace; an image without ports promises no services to stop (not applicable)."""
    timeout = image.spec.timeouts.command
    try:
        with services_module.Services(image, "stop") as fresh:
            container = fresh.container
            pid1 = evidence("pid1", _pid1(container, timeout))
            started = time.monotonic()
            container.client.api.stop(container.id, timeout=DOCKER_STOP_GRACE)
            seconds = round(time.monotonic() - started, 2)
            exit_code = (container.reload().get("State") or {}).get("ExitCode")
    except ServicesUnavailable as error:  # no ports listed (does not apply), or no bridge network
        skip_for(error)
    evidence("docker_stop.seconds", seconds)
    evidence("docker_stop.exit_code", exit_code)
    assert exit_code != KILLED and seconds < PROMPT_STOP, (
        f"`docker stop` of {image.ref} took {seconds} s (exit code {exit_code}"
        f"{', killed when the grace ran out' if exit_code == KILLED else ''}), expected well under Docker's "
        f"{DOCKER_STOP_GRACE} s grace (< {PROMPT_STOP:.0f} s): PID 1 ({pid1}) does not pass SIGTERM on to the services"
        "\n  hint: run an init as PID 1 that forwards signals (tini -g, dumb-init), or exec the service")


def test_given_command_runs(image, evidence):
    marker = f"imagecheck-given-command-{secrets.token_hex(6)}"
    # The command prints the marker it is given reversed, so an entrypoint that only echoes
    # its arguments does not pass for one that runs them.
    command = ["python3", "-c", f"print({marker[::-1]!r}[::-1])"]
    run = entrypoint.run(image, "given-command", command, started_marker=marker,
                         timeout=image.spec.timeouts.command)
    evidence("given_command.exit_code", run.exit_code)
    evidence("given_command.seconds", run.seconds)
    assert run.exit_code == 0 and marker in run.stdout, (
        f"`docker run {image.ref} {' '.join(command)}` exited with code {run.exit_code}; expected 0 and the "
        f"command's output; last lines:\n{run.tail()}")
