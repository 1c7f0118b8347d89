"""The current host as a probe target, outside any container.

LocalHost offers what Container offers probes (put_files, exec), so the same probe can
run on the host with the host's own python: the suite uses it to measure what the machine
itself does (its all_reduce bandwidth) next to what a container of the image does. Every
command is bounded: on expiry the command and all its descendants (also those that
started their own sessions, as torchrun's workers do) are killed by pid, and
CommandTimeout says what it printed last.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import CommandTimeout, explain
from .target import BoundedOutput, ExecResult, last_lines, show_command


class LocalHost:
    """This machine, with a scratch folder that is removed on exit (use it in a with-block)."""

    image = "the host (outside any container)"
    name = "the host"

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self.scratch: Path | None = None

    def __enter__(self) -> "LocalHost":
        self.scratch = Path(tempfile.mkdtemp(prefix="imagecheck-host-"))
        return self

    def __exit__(self, *exc_info) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def put_files(self, destination: str, files: dict[str, bytes], mode: int = 0o644) -> None:
        """Write files into destination/ (an absolute path on this host; created)."""
        folder = Path(destination)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = folder / name
            path.write_bytes(data)
            path.chmod(mode)

    def exec(self, command: list[str], *, timeout: float, user: str | None = None,
             environment: dict[str, str] | None = None, workdir: str | None = None) -> ExecResult:
        """Run a command on this host, bounded by timeout seconds."""
        if user not in (None, "", str(os.getuid())):
            raise ValueError(f"LocalHost runs commands as the current user, not {user!r}")  # a defect in the caller
        env = {**os.environ, **(environment or {})}
        started = time.monotonic()
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                    cwd=workdir, start_new_session=True)
        except OSError as error:
            return ExecResult(list(command), 127, "", f"{command[0]}: {error.strerror or error}",
                              time.monotonic() - started)
        out, err = BoundedOutput(), BoundedOutput()
        readers = [threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True),
                   threading.Thread(target=_pump, args=(proc.stderr, err), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait(30)
            for reader in readers:
                reader.join(5)
            raise CommandTimeout(explain(
                f"`{show_command(list(command))}` on {self.name} ran past its {timeout:.0f} s limit and was killed",
                observed="last lines it printed:\n" + last_lines(err.text() + "\n" + out.text()),
                where=self.name,
                hint="raise the limit in images.yaml (timeouts) if the machine is just slow")) from None
        for reader in readers:
            reader.join(30)
        return ExecResult(list(command), proc.returncode, out.text(), err.text(), time.monotonic() - started)


def _pump(stream, sink: BoundedOutput) -> None:
    try:
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink.add(chunk)
    except (OSError, ValueError):
        pass


def descendants(pid: int) -> list[int]:
    """pid and every process below it, parents first (from /proc/PID/task/*/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        if current in found:
            continue
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                queue.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


def kill_tree(pid: int) -> None:
    """Stop pid and its descendants first (so none can start more), then kill them, by pid."""
    tree = descendants(pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for member in tree:
            try:
                os.kill(member, sig)
            except (ProcessLookupError, PermissionError):
                pass
