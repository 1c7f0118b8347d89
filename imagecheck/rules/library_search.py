"""Library conflicts (contract item 14): a library torch ships that the loader, asked for
it by name, would not find first.

torch finds its own libraries by RPATH, so `import torch` works whatever the image's
search path says; but a library loaded by name later (dlopen of its soname, ctypes, a
library without torch's RPATH) gets the first file of that name in the loader's search
order: LD_LIBRARY_PATH, the ld.so cache, the default folders. The facts probe lists,
for each library torch and its nvidia-* wheels ship, every file of its name in that order
(fixtures/probes/library_search.py); a first file that is not torch's own is a conflict.
"""
from __future__ import annotations

from dataclasses import dataclass

ENV_VIA = "ENV LD_LIBRARY_PATH"


@dataclass(frozen=True)
class Shadowed:
    """A library torch ships that another file shadows: its name, both files, and what put
    the other one first."""

    name: str
    shipped: str
    first: str
    via: str

    def __str__(self) -> str:
        return f"{self.name}: {self.first} comes first (put there by {self.via}), not torch's {self.shipped}"


def shadowed(libraries: dict[str, dict]) -> list[Shadowed]:
    """The libraries whose first file in the search order is not the one torch ships, from
    the probe's {name: {shipped, candidates: [{path, via, same}]}} (candidates in order)."""
    found = []
    for name, entry in sorted(libraries.items()):
        candidates = entry.get("candidates") or []
        if candidates and not candidates[0].get("same"):
            first = candidates[0]
            found.append(Shadowed(name, entry.get("shipped", "?"), first["path"], first.get("via", "?")))
    return found


def search_order(section: dict) -> list[str]:
    """The loader's search order as the image configures it, one line per step (evidence)."""
    steps = [f"{folder} ({ENV_VIA})" for folder in section.get("ld_library_path") or []]
    steps.append(f"the ld.so cache ({section.get('cache', 'not read')}): " + ", ".join(section.get("ld_so_conf") or []))
    steps.append("default folders: " + ", ".join(section.get("default_folders") or []))
    return steps


def hints(found: list[Shadowed]) -> list[str]:
    """What to change, for each way the found conflicts were put first."""
    vias = {item.via for item in found}
    lines = []
    if ENV_VIA in vias:
        lines.append("remove the folder from ENV LD_LIBRARY_PATH (torch finds its libraries by RPATH and needs none)")
    if any(via.startswith("/") for via in vias):  # an ld.so.conf file named the folder
        lines.append("delete the other copy, or the ld.so.conf.d file that lists its folder, and run ldconfig "
                     "in the build")
    if any(via != ENV_VIA and not via.startswith("/") for via in vias):
        lines.append("remove the other copy (a system package of the same library) from the loader's folders")
    return lines
