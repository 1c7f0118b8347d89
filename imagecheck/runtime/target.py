"""Where commands run: the Target protocol (a container, or the host itself) and what a
command leaves behind (ExecResult).

ExecResult is the suite's one command result. testinfra has its own (CommandResult); the
bridge in runtime/testinfra_bridge.py makes one from an ExecResult only for testinfra's
modules (user, group, socket), so nothing else in the suite sees two kinds.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol


@dataclass
class ExecResult:
    """What a command printed and how it ended."""

    command: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def tail(self, lines: int = 15) -> str:
        """The last lines of stderr and stdout, for messages."""
        return last_lines("\n".join(s for s in (self.stderr.strip(), self.stdout.strip()) if s), lines)


class Target(Protocol):
    """Where probes and commands run: a runtime.container.Container, or the host
    (runtime.local.LocalHost). `image` and `name` say which, for messages."""

    image: str
    name: str

    def put_files(self, destination: str, files: dict[str, bytes], mode: int = 0o644) -> None: ...

    def exec(self, command: list[str], *, timeout: float, user: str | None = None,
             environment: dict[str, str] | None = None, workdir: str | None = None) -> ExecResult: ...


class BoundedOutput:
    """What a command printed on one stream, held within bounds: the first HEAD bytes and the
    last TAIL bytes (a probe's JSON is its last line; an image that prints megabytes, or a
    gigabyte, cannot fill this process's memory). text() marks what was left out."""

    HEAD = 256 * 1024
    TAIL = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.HEAD - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail += chunk
        excess = len(self._tail) - self.TAIL
        if excess > 0:
            del self._tail[:excess]
            self.dropped += excess

    def bytes(self) -> bytes:
        gap = f"\n[... {self.dropped} bytes left out ...]\n".encode() if self.dropped else b""
        return bytes(self._head) + gap + bytes(self._tail)

    def text(self) -> str:
        """The output as text (bytes that are not UTF-8 replaced, never an error)."""
        return self.bytes().decode(errors="replace")


def last_lines(text: str, lines: int = 15) -> str:
    """The last lines of some output, or '(nothing printed)'."""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(nothing printed)"


def show_command(command: list[str]) -> str:
    """A command as a shell would read it, shortened for a message."""
    text = shlex.join(command)
    return text if len(text) < 120 else text[:117] + "..."
