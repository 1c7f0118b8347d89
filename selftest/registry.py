"""A real registry for the self-tests: Debian's docker-registry (the distribution registry)
served on 127.0.0.1 from a folder of the test's own, optionally behind htpasswd
credentials, and stopped afterwards. `make test` installs it when it is missing."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BINARY = "docker-registry"
START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    """One registry process; `address` is host:port as image references name it."""

    def __init__(self, folder: Path, credentials: tuple[str, str] | None = None) -> None:
        self.folder = folder
        self.credentials = credentials
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Registry":
        binary = shutil.which(BINARY)
        if binary is None:
            pytest.fail(f"{BINARY} is not installed; `make test` installs it (apt-get install docker-registry "
                        "apache2-utils)", pytrace=False)
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.credentials:
            user, password = self.credentials
            hashed = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, text=True,
                                    check=True, timeout=60).stdout
            (self.folder / "htpasswd").write_text(hashed)
            auth = f"auth:\n  htpasswd:\n    realm: imagecheck-selftest\n    path: {self.folder / 'htpasswd'}\n"
        config = self.folder / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {self.folder / 'data'}\n  delete:\n    enabled: true\n"
                          f"http:\n  addr: {self.address}\n{auth}")
        log = (self.folder / "registry.log").open("w")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.answers():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"the registry did not start on {self.address}:\n{(self.folder / 'registry.log').read_text()[-2000:]}",
                    pytrace=False)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2).close()
            return True
        except urllib.error.HTTPError as error:
            return error.code == 401  # up, and wants credentials
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
