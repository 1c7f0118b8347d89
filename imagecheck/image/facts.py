"""A typed view of the facts probe's JSON (fixtures/probes/facts.py): the one place that
knows its layout. Checks, the host preflight and the sign-off report read the facts
through it, never with chained .get()s of their own.

The probe's sections: `stack` (Python, imports, installed distributions, torch and its
CUDA build, torchvision's and torchaudio's compiled parts), `pip_check`,
`shared_libraries` and `identity` (the default user, its groups and what it can write).
A section the probe could not gather holds {"error": ...}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STACK_PACKAGES = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Facts:
    """What the facts probe saw inside the image."""

    raw: dict

    # ---- sections ------------------------------------------------------------------------
    @property
    def stack(self) -> dict:
        return self.raw.get("stack") or {}

    @property
    def pip_check(self) -> dict:
        return self.raw.get("pip_check") or {"error": "the facts probe has no pip_check section"}

    @property
    def shared_libraries(self) -> dict:
        return self.raw.get("shared_libraries") or {"error": "the facts probe has no shared_libraries section"}

    @property
    def identity(self) -> dict:
        return self.raw.get("identity") or {"error": "the facts probe has no identity section"}

    @property
    def default_user(self) -> dict:
        """The identity section's user: name, uid, gid, home (empty when unknown)."""
        return self.identity.get("user") or {}

    # ---- Python and packages ----------------------------------------------------------------
    @property
    def python(self) -> dict:
        """version, executable, prefix, include_dir, python_h."""
        return self.stack.get("python") or {}

    @property
    def distributions(self) -> dict[str, str]:
        """Installed distributions, by normalised name (lower case, '-' for '_')."""
        return self.stack.get("distributions") or {}

    def import_result(self, module: str) -> dict:
        """{'ok', 'version', 'seconds', 'error', 'traceback_tail'} of one import."""
        return (self.stack.get("imports") or {}).get(module) or {
            "ok": False, "error": f"the facts probe did not try to import {module}", "traceback_tail": []}

    def imports(self, module: str) -> bool:
        return bool(self.import_result(module).get("ok"))

    def installed_version(self, package: str) -> str | None:
        """The version the image reports for a package: 'python', or a distribution name.

        For torch, torchvision and torchaudio the module's own __version__ wins (it carries the
        CUDA local part, '2.6.0+cu124'); else the installed distribution's metadata, so a
        package that fails to import still shows what is installed.
        """
        if package == "python":
            return self.python.get("version")
        imported = (self.stack.get("imports") or {}).get(package) or {}
        if imported.get("ok") and imported.get("version"):
            return imported["version"]
        return self.distributions.get(package.lower().replace("_", "-"))

    # ---- torch ------------------------------------------------------------------------------
    @property
    def torch(self) -> dict | None:
        """torch's build facts (cuda, cudnn, nccl, arch_list, cuda_runtime...), or None when
        torch does not import (or its facts could not be read: then {'error': ...})."""
        return self.stack.get("torch")

    @property
    def torch_readable(self) -> bool:
        torch = self.torch
        return torch is not None and not ("error" in torch and "version" not in torch)

    @property
    def torch_cuda(self) -> str | None:
        """torch.version.cuda (None: a CPU-only build, or torch does not import)."""
        return (self.torch or {}).get("cuda")

    @property
    def cudnn(self) -> str | None:
        """The cuDNN version torch loads at run time (else the one it reports)."""
        torch = self.torch or {}
        return torch.get("cudnn_runtime") or (str(torch["cudnn"]) if torch.get("cudnn") else None)

    @property
    def cuda_runtime(self) -> dict:
        """available, device_count, devices, visible_devices_env (and error)."""
        return (self.torch or {}).get("cuda_runtime") or {}

    @property
    def arch_list(self) -> list[str]:
        return (self.torch or {}).get("arch_list") or []

    @property
    def torchvision_ops(self) -> dict:
        return self.stack.get("torchvision_ops") or {"ok": False, "error": "torch does not import"}

    @property
    def torchaudio_ops(self) -> dict:
        return self.stack.get("torchaudio_ops") or {"ok": False, "error": "torch does not import"}

    def versions(self) -> dict[str, Any]:
        """The versions seen inside: Python, the torch trio, Triton, NumPy, CUDA, cuDNN, NCCL."""
        versions = {name: self.installed_version(name)
                    for name in ("python", *STACK_PACKAGES, "triton", "numpy")}
        versions.update(cuda=self.torch_cuda, cudnn=self.cudnn, nccl=(self.torch or {}).get("nccl"))
        return versions


def import_failure(result: dict) -> str:
    """A readable account of a failed import: the error and the traceback's last lines."""
    tail = "\n    ".join(result.get("traceback_tail") or [])
    return f"{result.get('error')}" + (f"\n    {tail}" if tail else "")
