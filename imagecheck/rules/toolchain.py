"""What torch.compile needs of an image at run time, and what to say when it is missing.

Inductor compiles CPU kernels with a C++ compiler; on CUDA, Triton builds its launcher
with a C compiler against Python's headers (Python.h). Runtime images without them fail
at the first compiled call ("Failed to find C compiler", "InvalidCxxCompiler").
"""
from __future__ import annotations


def missing(toolchain: dict, device: str) -> list[str]:
    """What the compile probe found missing for this device, as sentences."""
    gaps = []
    if device == "cpu" and not toolchain.get("cxx_compiler"):
        also = "" if toolchain.get("c_compiler") else " (nor a C compiler: no $CC, cc, gcc, clang)"
        gaps.append("no C++ compiler (looked for $CXX, g++, c++, clang++ on PATH)" + also +
                    ": Inductor compiles CPU kernels with it")
    if device == "cuda" and not toolchain.get("c_compiler"):
        gaps.append("no C compiler (looked for $CC, cc, gcc, clang on PATH): Triton builds its CUDA "
                    "launcher with it")
    if device == "cuda" and not toolchain.get("python_h"):
        gaps.append(f"no Python headers (Python.h is not in {toolchain.get('include_dir') or 'the include folder'}): "
                    "Triton builds its launcher against them")
    return gaps


def explain_missing(image_ref: str, toolchain: dict, device: str) -> str | None:
    """A message saying exactly what the image lacks for torch.compile on this device."""
    gaps = missing(toolchain, device)
    if not gaps:
        return None
    packages = "g++ (and gcc)" if device == "cpu" else "gcc and python3-dev (Debian/Ubuntu)"
    return (f"torch.compile cannot build kernels on {device.upper()} in {image_ref}: the image has "
            + "; and ".join(gaps) + f"\n  hint: install {packages} in the image; runtime-only images leave them out")
