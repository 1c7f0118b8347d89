"""The image started as its users start it: its own ENTRYPOINT and CMD, its ports published.

A services container is a second container of the image (the probe container idles under
`sleep infinity` and never runs the image's services). Each port images.yaml lists is
published to a free loopback port of the host (Docker picks it, so parallel runs never
collide); the Jupyter token comes from a random value set in the environment variable the
image documents (images.yaml jupyter.token_env).

Starting waits, up to timeouts.service_ready, until every listed port answers from the
host, and records how each one answered (Services.answers: what was last seen, after how
many seconds). A port that never answers is no error of the start: the checks that judge
"answers" (every listed port answers, SSH's banner) read the record and fail with it;
every other service check needs the services ready (require_ready(): ServicesNotReady,
with what each silent port last answered and what the container last logged). A
container that stops while they wait is an error of the start (ContainerStartError).

One services container per image is shared by the service checks (`for_checks(image)`); the
checks that need a fresh one (a second container's SSH host keys, `docker stop`) start
their own with `Services(image, role)` in a with-block, which also requires them ready.
"""
from __future__ import annotations

import http.client
import json
import secrets as random
import socket
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ContainerStartError, ImagecheckError, NotPromised, explain
from ..runtime.container import Container
from ..runtime.engine import has_default_bridge
from ..runtime.readiness import wait_until
from .under_test import ImageUnderTest

POLL_SECONDS = 0.5
CONNECT_SECONDS = 3.0
HTTP_SERVICES = ("jupyter", "http")


class ServicesUnavailable(ImagecheckError):
    """The image's services cannot be started here (not the image's fault: no bridge network)."""

    requirement = {"kind": "bridge_network"}  # what this host lacks, for the sign-off


class ServicesNotPromised(ServicesUnavailable, NotPromised):
    """images.yaml lists no ports for the image, so no service check applies."""


class ServicesNotReady(ImagecheckError):
    """A listed port of the image did not answer within timeouts.service_ready."""


@dataclass
class Endpoint:
    """One listed port of the image and where the host reaches it."""

    port: int
    service: str
    host_port: int | None
    host: str = "127.0.0.1"

    def __str__(self) -> str:
        return f"{self.service} port {self.port} (host port {self.host_port})"


@dataclass(frozen=True)
class Answer:
    """How a port answered from the host: whether it did, what was seen (for messages and
    evidence), the SSH banner where it is an SSH port, and (after the readiness wait) how
    many seconds after the start it first answered."""

    ok: bool
    seen: str
    banner: str | None = None
    seconds: float | None = None

    def __str__(self) -> str:
        return self.seen + (f" after {self.seconds} s" if self.ok and self.seconds is not None else "")


class Services:
    """The image started with its own entrypoint and CMD, its listed ports published."""

    def __init__(self, image: ImageUnderTest, role: str = "services") -> None:
        self.image = image
        self.role = role
        self.token = random.token_hex(24)
        self.endpoints: dict[int, Endpoint] = {}
        self.container: Container | None = None
        self.answers: dict[int, Answer] = {}
        self.waited: float | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> "Services":
        """Start, and require every listed port to answer (a fresh container for one check)."""
        self.start()
        try:
            self.require_ready()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def start(self) -> None:
        """Start the container and wait, up to timeouts.service_ready, until every listed port
        answers; each port's answer is in self.answers (silent ones too)."""
        image = self.image
        if not image.spec.ports:
            raise ServicesNotPromised(f"images.yaml lists no ports for {image.ref}, so no service is promised")
        client = image.context.client
        if not has_default_bridge(client):
            raise ServicesUnavailable(
                "the Docker engine has no bridge network, so the image's ports cannot be published to "
                "free host ports (an engine started with --bridge=none); the service checks need one")
        if "jupyter" in image.spec.ports.values():
            image.require_python()  # Jupyter is python: a python that cannot start has failed already, once
        ports = {f"{port}/tcp": ("127.0.0.1", None) for port in image.spec.ports}
        environment = {image.spec.jupyter.token_env: self.token} if "jupyter" in image.spec.ports.values() else {}
        self.container = image.new_container(self.role, gpu=image.no_gpu, environment=environment, ports=ports)
        try:
            self.container.__enter__()
            self._read_ports()
            self.wait_ready()
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        container, self.container = self.container, None
        if container is not None:
            container.remove()

    # ---- what the host reaches ---------------------------------------------------------
    def _read_ports(self) -> None:
        attrs = self.container.reload()
        published = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for port, service in sorted(self.image.spec.ports.items()):
            bindings = published.get(f"{port}/tcp") or []
            host_port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), None)
            self.endpoints[port] = Endpoint(port, service, host_port)

    def endpoint(self, service: str) -> Endpoint | None:
        """The first listed port of a service ('ssh', 'jupyter'), or None."""
        return next((e for e in self.endpoints.values() if e.service == service), None)

    def wait_ready(self) -> None:
        """Ask every listed port until it answers from the host or timeouts.service_ready runs
        out, recording each one's last answer; ContainerStartError if the container stops."""
        pending = dict(self.endpoints)

        def all_answered(elapsed: float) -> bool:
            for port, endpoint in list(pending.items()):
                seen = answer(endpoint)
                self.answers[port] = replace(seen, seconds=round(elapsed, 2))
                if seen.ok:
                    del pending[port]
            return not pending

        waited = wait_until(all_answered, timeout=self.image.spec.timeouts.service_ready, poll=POLL_SECONDS,
                            on_round=lambda _: self._require_running())
        self.waited = waited.seconds

    def _require_running(self) -> None:
        state = self.container.reload().get("State") or {}
        if state.get("Status") != "running":
            raise ContainerStartError(explain(
                f"the services container of {self.image.ref} stopped before its ports answered",
                expected=f"{', '.join(str(e) for e in self.endpoints.values())} answering",
                observed=f"exit code {state.get('ExitCode')}; last log lines:\n{self.container.logs(20).strip()}",
                where=self.container.name,
                hint="the image's own ENTRYPOINT and CMD must keep its services running"))

    @property
    def silent(self) -> list[Endpoint]:
        """The listed ports that did not answer within timeouts.service_ready."""
        return [self.endpoints[port] for port, seen in self.answers.items() if not seen.ok]

    def require_ready(self) -> "Services":
        """These services, if every listed port answered; else ServicesNotReady saying what
        each silent port last answered and what the container last logged."""
        silent = self.silent
        if silent:
            limit = self.image.spec.timeouts.service_ready
            raise ServicesNotReady(explain(
                f"the services of {self.image.ref} were not ready within timeouts.service_ready ({limit} s)",
                expected="every port images.yaml lists answers from the host",
                observed="\n    ".join([""] + [f"{e}: last seen {self.answers[e.port].seen}" for e in silent])
                         + f"\n  last log lines:\n{self.container.logs(20).strip() if self.container else '(gone)'}",
                where=self.container.name if self.container else self.role,
                hint="raise timeouts.service_ready in images.yaml if the image is just slow to start"))
        return self

    # ---- talking to it -------------------------------------------------------------------
    def http(self, path: str, token: str | None = None) -> tuple[int, str]:
        """GET path from Jupyter's published port; (status, body start)."""
        return http_get(self.endpoint("jupyter"), path, token)


def answer(endpoint: Endpoint) -> Answer:
    """Whether the port answers from the host, and what was seen: an SSH port its banner,
    an HTTP port (HTTP_SERVICES) a status below 500 (GET /api for Jupyter, / otherwise),
    any other port data, or a connection it keeps open waiting for the client."""
    if endpoint.host_port is None:
        return Answer(False, "not published (Docker gave it no host port)")
    if endpoint.service == "ssh":
        try:
            banner = ssh_banner(endpoint)
        except OSError as error:
            return Answer(False, _socket_error(error))
        return Answer(banner.startswith("SSH-"), f"banner {banner!r}" if banner else
                      "connected, then closed without a banner", banner=banner)
    if endpoint.service in HTTP_SERVICES:
        try:
            status, _ = http_get(endpoint, "/api" if endpoint.service == "jupyter" else "/")
        except (OSError, http.client.HTTPException) as error:
            return Answer(False, _socket_error(error))
        return Answer(status < 500, f"HTTP {status}")
    try:
        with socket.create_connection((endpoint.host, endpoint.host_port), timeout=CONNECT_SECONDS) as sock:
            sock.settimeout(1.0)
            try:
                data = sock.recv(64)
            except socket.timeout:
                return Answer(True, "connected; the service waits for the client to speak")
            return Answer(bool(data), f"sent {len(data)} bytes" if data else
                          "connected, then closed (nothing listens behind it)")
    except OSError as error:
        return Answer(False, _socket_error(error))


def ssh_banner(endpoint: Endpoint) -> str:
    """The first line an SSH server sends ('SSH-2.0-OpenSSH_9.2p1 ...'); '' if it closes."""
    with socket.create_connection((endpoint.host, endpoint.host_port), timeout=CONNECT_SECONDS) as sock:
        sock.settimeout(CONNECT_SECONDS)
        data = b""
        while b"\n" not in data and len(data) < 512:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def http_get(endpoint: Endpoint, path: str, token: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection(endpoint.host, endpoint.host_port, timeout=CONNECT_SECONDS * 2)
    try:
        headers = {"Authorization": f"token {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(300).decode(errors="replace")
    finally:
        connection.close()


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _socket_error(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset (nothing listens behind the published port yet)"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed without an HTTP answer (nothing listens behind the published port yet)"
    return f"{type(error).__name__}: {error}"


# ---- the one services container each image shares ----------------------------------------

def for_checks(image: ImageUnderTest, *, ready: bool = True) -> Services:
    """The services container the service checks of this image share, started on first use
    (image.shared: a failed start is kept, so every later check reports it at once instead
    of waiting out the readiness limit again; what cannot run here, ServicesUnavailable, is
    said again as it is). ready=False: as it came up, silent ports and all, for the checks
    that judge the answers; else every listed port must have answered. The container goes
    when the image's tests end (ImageUnderTest.close), like every container of the image."""
    services = image.shared("services", lambda: _started(image), passthrough=(ServicesUnavailable,))
    return services.require_ready() if ready else services


def _started(image: ImageUnderTest) -> Services:
    services = Services(image)
    services.start()
    return services
