"""SSH in a running services container: the daemon's effective configuration
(`sshd -T`, for a given connecting user) and the host keys it serves.

`sshd -T` runs inside the container as the user the daemon runs as, with the daemon's
own `-f` configuration file, and with a connection spec (`-C user=...`) so Match blocks
apply as they would for a real login. The served host keys are read from outside with the
host's ssh-keyscan through the published port; where the host has none, with the image's
own ssh-keyscan against its port inside.
"""
from __future__ import annotations

import base64
import hashlib
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import ImagecheckError, explain
from ..runtime import testinfra_bridge
from .services import Services

# A connection from an address of TEST-NET-1 (RFC 5737), as a real client would make it.
CONNECTION = "host=imagecheck.invalid,addr=192.0.2.10"
KEYSCAN_CONNECT_SECONDS = 5  # ssh-keyscan -T: how long it waits for the daemon to speak


class SshError(ImagecheckError):
    """The SSH daemon or its configuration could not be read."""


@dataclass
class Daemon:
    """The running sshd: its pid, user and command line."""

    pid: int
    user: str
    args: str

    @property
    def words(self) -> list[str]:
        """The command line, without the title sshd gives itself ('sshd: /usr/sbin/sshd -D ...')."""
        args = self.args.split(":", 1)[1] if self.args.startswith("sshd:") else self.args
        try:
            return shlex.split(args)
        except ValueError:
            return args.split()

    @property
    def config_file(self) -> str | None:
        """The -f FILE it was started with, if any."""
        words = self.words
        for index, word in enumerate(words):
            if word == "-f" and index + 1 < len(words):
                return words[index + 1]
            if word.startswith("-f") and len(word) > 2:
                return word[2:]
        return None


def daemon(services: Services, timeout: float) -> Daemon:
    """The listening sshd (testinfra's process module: ps in the image)."""
    host = testinfra_bridge.host(services.container, timeout)
    try:
        found = host.process.filter(comm="sshd")
    except (AssertionError, RuntimeError, ValueError) as error:
        raise SshError(explain("cannot list the processes of the services container",
                               observed=str(error).strip()[:300], where=services.container.name,
                               hint="the check uses ps (procps) in the image")) from None
    if not found:
        raise SshError(explain(f"no sshd runs in {services.image.ref} started with its own CMD",
                               expected="the SSH daemon that serves the ssh port images.yaml lists",
                               where=services.container.name))
    pids = {p.pid for p in found}
    listener = next((p for p in found if p.ppid not in pids), found[0])
    return Daemon(listener.pid, listener.user, listener.args)


def _binary(services: Services, sshd: Daemon, timeout: float) -> str:
    for word in sshd.words:
        if word.endswith("/sshd"):
            return word
    result = services.container.exec(["readlink", f"/proc/{sshd.pid}/exe"], timeout=timeout, user="0")
    return result.stdout.strip() or "sshd"


def effective_config(services: Services, sshd: Daemon, login_user: str, timeout: float) -> dict[str, str]:
    """`sshd -T` for a connection of login_user; keys lower-case, first value of each."""
    command = [_binary(services, sshd, timeout), "-T", "-C", f"user={login_user},{CONNECTION}"]
    if sshd.config_file:
        command += ["-f", sshd.config_file]
    result = services.container.exec(command, timeout=timeout, user=sshd.user)
    if result.exit_code != 0:
        raise SshError(explain(f"`{' '.join(command)}` failed in {services.image.ref}",
                               observed=f"exit code {result.exit_code}: {result.tail(8)}",
                               where=services.container.name))
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and key.lower() not in values:
            values[key.lower()] = value.strip()
    return values


@dataclass(frozen=True)
class HostKey:
    """A host key the daemon serves: its type and public blob."""

    kind: str
    blob: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def served_host_keys(services: Services, timeout: float) -> tuple[set[HostKey], str]:
    """The host keys the SSH port serves, and how they were read; the scan, on the host or
    in the container, is bounded by timeout (images.yaml timeouts.command)."""
    endpoint = services.endpoint("ssh")
    keyscan = shutil.which("ssh-keyscan")
    if keyscan and endpoint is not None and endpoint.host_port:
        command = [keyscan, "-T", str(KEYSCAN_CONNECT_SECONDS), "-p", str(endpoint.host_port), endpoint.host]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SshError(explain(f"ssh-keyscan of {endpoint} gave no answer within {timeout:.0f} s "
                                   "(timeouts.command)", where=services.container.name,
                                   hint="the daemon must answer a key exchange")) from None
        except OSError as error:
            raise SshError(explain(f"the host's {keyscan} does not run", observed=str(error)[:300],
                                   hint="reinstall openssh-client on the host, or take ssh-keyscan off PATH")) \
                from None
        keys = _parse_keyscan(proc.stdout)
        source = f"ssh-keyscan on the host, port {endpoint.host_port}"
        detail = proc.stderr
    else:
        port = endpoint.port if endpoint else 22
        result = services.container.exec(["ssh-keyscan", "-T", str(KEYSCAN_CONNECT_SECONDS), "-p", str(port),
                                          "127.0.0.1"], timeout=timeout)
        keys = _parse_keyscan(result.stdout)
        source = f"the image's ssh-keyscan, port {port} (the host has no ssh-keyscan)"
        detail = result.tail(5)
    if not keys:
        raise SshError(explain(f"no host key read from {services.image.ref}'s SSH port",
                               observed=detail.strip()[-300:] or "(nothing)", where=services.container.name,
                               hint="the daemon must answer a key exchange"))
    return keys, source


def _parse_keyscan(text: str) -> set[HostKey]:
    keys = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) >= 3:
            keys.add(HostKey(fields[1], fields[2]))
    return keys
