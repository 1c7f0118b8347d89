"""Bytes an image carries for nothing, read from its layers' file lists.

A layer is a list of files (path, kind, size, mode, owner, modification time) plus what it
deletes from the layers below (whiteouts: a path, or everything under an opaque folder).
Applied bottom to top, they make the image's filesystem; along the way a file of a lower
layer dies (its bytes stay in the image, nobody can see them) when a later layer
- writes it again with the same size and modification time: re-permissioned (a `chmod -R`
  or `chown -R` copies every file it touches into its own layer, even when no mode or
  owner changes);
- writes it again otherwise: overwritten;
- deletes it, or a folder above it: deleted.
What the image shows in the end may still hold package managers' caches: pip's
(~/.cache/pip), apt's lists and archives (/var/lib/apt/lists, /var/cache/apt), conda's
package folder (pkgs/ beside conda-meta/).

Each finding names the layer and the build step that made the bytes dead (or wrote the
cache), the layer and step that wrote them, the biggest paths and the fix. Messages
count layers from 1 (the bottom one), as the report's Layers section does.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable

from .sizes import MB, human, number

FILE, FOLDER, SYMLINK, HARDLINK, OTHER = "f", "d", "l", "h", "o"
REPERMISSIONED, OVERWRITTEN, DELETED = "re-permissioned", "overwritten", "deleted"
PIP, APT_LISTS, APT_ARCHIVES, CONDA = "pip cache", "apt lists", "apt archives", "conda packages"
BIGGEST = 5  # paths named per finding

HINTS = {
    REPERMISSIONED: "set owner and mode where the files are written (COPY --chown/--chmod, or chown/chmod in the "
                    "RUN that installs them, or pip install as the user that needs them), never in a later RUN",
    OVERWRITTEN: "write the files once in their final form: do both steps in one RUN, or build in a multi-stage "
                 "build and COPY only the result",
    DELETED: "delete in the same RUN that creates the files (a later RUN only hides them), or build in a "
             "multi-stage build and COPY only what the image needs",
    PIP: "pip install --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1, or RUN --mount=type=cache,target=/root/.cache/pip)",
    APT_LISTS: "end the RUN that runs apt-get install with `&& rm -rf /var/lib/apt/lists/*`",
    APT_ARCHIVES: "end the RUN that runs apt-get install with `&& apt-get clean`",
    CONDA: "end the RUN that runs conda install with `&& conda clean -afy`",
}


@dataclass(frozen=True)
class Entry:
    """A file of a layer: kind (f, d, l, h: hard link, o), size, mode, uid, gid, mtime."""

    kind: str
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime: int = 0


@dataclass
class LayerFiles:
    """One layer's files (path without a leading /: Entry), the paths it deletes (whiteouts)
    and the folders whose lower content it hides (opaque)."""

    index: int
    step: str
    files: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(cls, index: int, step: str, rows: Iterable[list], whiteouts: Iterable[str] = (),
                  opaque: Iterable[str] = ()) -> "LayerFiles":
        """A layer from rows [path, kind, size, mode, uid, gid, mtime] as the readers send them."""
        files = {}
        for row in rows:
            path = clean(str(row[0]))
            if path:
                files[path] = Entry(str(row[1]), *(int(value or 0) for value in row[2:7]))
        return cls(index, step, files, [p for p in map(clean, whiteouts) if p], [clean(p) for p in opaque])


def clean(path: str) -> str:
    """A path as the layers compare them: no leading './' or '/', no trailing '/'."""
    path = path[2:] if path.startswith("./") else path
    return os.path.normpath("/" + path).strip("/")


@dataclass(frozen=True)
class Finding:
    """Bytes of one kind made dead (or cached) by one layer: how many, in how many files,
    where they came from, and the biggest paths."""

    reason: str
    layer: int
    step: str
    bytes: int
    files: int
    biggest: tuple[tuple[str, int], ...]
    under: str
    source_layer: int | None = None
    source_step: str = ""

    @property
    def hint(self) -> str:
        return HINTS[self.reason]

    def describe(self) -> str:
        """One line: what, where (layer and step), how much, the biggest paths."""
        paths = ", ".join(f"{_relative(path, self.under)} ({human(size)})" for path, size in self.biggest)
        place = f"under /{self.under}" if self.under else "in /"
        if self.source_layer is None:
            return (f"layer {self.layer + 1} (`{_short(self.step)}`) left {human(self.bytes)} of {self.reason} in "
                    f"{self.files} file(s) {place}: {paths}")
        return (f"layer {self.layer + 1} (`{_short(self.step)}`) {self.reason} {human(self.bytes)} in {self.files} "
                f"file(s) that layer {self.source_layer + 1} (`{_short(self.source_step)}`) wrote, {place}: {paths}")

    def to_json(self) -> dict:
        return {"reason": self.reason, "layer": self.layer, "step": self.step, "bytes": self.bytes,
                "files": self.files, "under": "/" + self.under, "source_layer": self.source_layer,
                "source_step": self.source_step, "biggest": [["/" + p, s] for p, s in self.biggest]}


def _short(step: str, limit: int = 90) -> str:
    step = " ".join(step.split())
    return step if len(step) <= limit else step[: limit - 1] + "…"


def _relative(path: str, under: str) -> str:
    return path[len(under) + 1:] if under and path.startswith(under + "/") else "/" + path


class _Image:
    """The filesystem as the layers build it, with the dead bytes found on the way."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, Entry]] = {}   # path -> (layer that wrote it, entry)
        self.children: dict[str, set[str]] = {}
        self.dead: dict[tuple[int, str, int], list[tuple[str, int]]] = {}

    def kill(self, layer: int, reason: str, path: str) -> None:
        source, entry = self.files[path]
        if entry.kind == FILE and entry.size > 0:
            self.dead.setdefault((layer, reason, source), []).append((path, entry.size))

    def remove_tree(self, layer: int, top: str, *, keep_top: bool = False) -> None:
        stack = [top]
        while stack:
            path = stack.pop()
            stack.extend(self.children.pop(path, ()))
            if path in self.files and not (keep_top and path == top):
                self.kill(layer, DELETED, path)
                del self.files[path]
        if keep_top:
            self.children[top] = set()

    def write(self, layer: int, path: str, entry: Entry) -> None:
        old = self.files.get(path)
        if old is not None:
            before = old[1]
            if before.kind == FOLDER and entry.kind != FOLDER:
                self.remove_tree(layer, path)
            elif before.kind == FILE:
                same_bytes = entry.kind == FILE and entry.size == before.size and entry.mtime == before.mtime
                self.kill(layer, REPERMISSIONED if same_bytes else OVERWRITTEN, path)
        self.files[path] = (layer, entry)
        while path:  # link it to each folder above (a tar need not list them)
            parent = os.path.dirname(path)
            siblings = self.children.setdefault(parent, set())
            if path in siblings:
                break
            siblings.add(path)
            path = parent


def _finding(reason: str, layer: int, steps: dict[int, str], items: list[tuple[str, int]],
             source: int | None = None) -> Finding:
    items.sort(key=lambda item: (-item[1], item[0]))
    under = os.path.commonpath([path for path, _ in items]) if len(items) > 1 else os.path.dirname(items[0][0])
    return Finding(reason, layer, steps.get(layer, ""), sum(size for _, size in items), len(items),
                   tuple(items[:BIGGEST]), under, source, steps.get(source, "") if source is not None else "")


def _by_size(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.bytes, f.layer))


def _apply(layers: Iterable[LayerFiles]) -> tuple[_Image, dict[int, str]]:
    image, steps = _Image(), {}
    for layer in layers:
        steps[layer.index] = layer.step
        for folder in layer.opaque:
            image.remove_tree(layer.index, folder, keep_top=True)
        for path in layer.whiteouts:
            image.remove_tree(layer.index, path)
        for path, entry in layer.files.items():
            image.write(layer.index, path, entry)
    return image, steps


@dataclass(frozen=True)
class Waste:
    """What scan() found: the dead bytes and the caches, each biggest first."""

    dead: list[Finding]
    caches: list[Finding]
    files: int  # files the layers hold, all together


def scan(layers: Iterable[LayerFiles]) -> Waste:
    """Apply the layers bottom to top: what later layers made dead (re-permissioned,
    overwritten, deleted), and the package managers' caches left in the final filesystem."""
    layers = list(layers)
    image, steps = _apply(layers)
    dead = [_finding(reason, layer, steps, items, source) for (layer, reason, source), items in image.dead.items()]
    grouped: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for path, (layer, entry) in image.files.items():
        if entry.kind == FILE and entry.size > 0:
            kind = cache_kind(path, image.files)
            if kind is not None:
                grouped.setdefault((kind, layer), []).append((path, entry.size))
    cached = [_finding(kind, layer, steps, items) for (kind, layer), items in grouped.items()]
    return Waste(_by_size(dead), _by_size(cached), sum(len(layer.files) for layer in layers))


_PIP = re.compile(r"(^|/)\.cache/pip/")
_CONDA = re.compile(r"^(.*?)(?:^|/)pkgs/")


def cache_kind(path: str, present: set[str] | dict) -> str | None:
    """Which package manager's cache a path of the final filesystem is in, or None."""
    if _PIP.search(path):
        return PIP
    if path.startswith("var/lib/apt/lists/"):
        return APT_LISTS
    if path.startswith("var/cache/apt/"):
        return APT_ARCHIVES
    if "/.conda/pkgs/" in f"/{path}":
        return CONDA
    match = _CONDA.match(path)
    if match is not None:
        root = match.group(1)
        if f"{root}/conda-meta" in present or (not root and "conda-meta" in present):
            return CONDA
    return None


def total(findings: Iterable[Finding]) -> int:
    return sum(f.bytes for f in findings)


def problem(ref: str, findings: list[Finding], limit_mb: float, key: str, what: str) -> str | None:
    """The message when the findings weigh more than images.yaml's limit (size.KEY, in MB;
    None when they do not): expected, observed (one line per finding, biggest first),
    where, and the fix of each kind found."""
    weight = total(findings)
    limit = limit_mb * MB
    if weight <= limit:
        return None
    lines = [f"    - {finding.describe()}" for finding in findings[:8]]
    if len(findings) > 8:
        lines.append(f"    - and {len(findings) - 8} more ({human(total(findings[8:]))})")
    hints = list(dict.fromkeys(f.hint for f in findings if f is findings[0] or f.bytes * 10 >= weight))  # what matters
    worst = findings[0]
    return (f"{ref} carries {human(weight)} of {what}, more than images.yaml allows\n"
            f"  expected: at most {human(limit)} (images.yaml size.{key}: {number(limit_mb)})\n"
            f"  observed: {human(weight)} in {sum(f.files for f in findings)} file(s):\n" + "\n".join(lines) + "\n"
            f"  where: layer {worst.layer + 1} (`{_short(worst.step, 160)}`)"
            + (f" and {len(findings) - 1} more finding(s) above\n" if len(findings) > 1 else "\n")
            + "  hint: " + "; ".join(hints))
