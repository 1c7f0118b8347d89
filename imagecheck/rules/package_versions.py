"""Which of two package versions is newer, as the package's own manager orders them:
Debian's (dpkg: epoch, upstream version, revision, `~` before anything) and Python's
(PEP 440, through `packaging`). None when the order cannot be told."""
from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from .versions import components


def compare(kind: str, old: str, new: str) -> int | None:
    """-1 when new is older than old, 1 when newer, 0 when equal, None when unknown."""
    if old == new:
        return 0
    if kind == "deb":
        return _sign(_dpkg(new, old))
    try:
        return _sign((Version(new) > Version(old)) - (Version(new) < Version(old)))
    except InvalidVersion:
        a, b = components(old), components(new)
        return _sign((b > a) - (b < a)) if a and b and a != b else None


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
    try:
        number = int(epoch or 0)
    except ValueError:
        number = 0
    return number, upstream, revision


def _order(char: str) -> int:
    """dpkg's weight of one character of the non-digit part: ~ first, then the end, letters, the rest."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part(a: str, b: str) -> int:
    """dpkg's verrevcmp of one upstream version or revision."""
    while a or b:
        text_a, a = re.match(r"(\D*)(.*)", a).groups()
        text_b, b = re.match(r"(\D*)(.*)", b).groups()
        for x, y in zip(text_a + "\0" * (len(text_b) - len(text_a)), text_b + "\0" * (len(text_a) - len(text_b))):
            wx = 0 if x == "\0" else _order(x)
            wy = 0 if y == "\0" else _order(y)
            if wx != wy:
                return wx - wy
        digits_a, a = re.match(r"(\d*)(.*)", a).groups()
        digits_b, b = re.match(r"(\d*)(.*)", b).groups()
        if int(digits_a or 0) != int(digits_b or 0):
            return int(digits_a or 0) - int(digits_b or 0)
    return 0


def _dpkg(a: str, b: str) -> int:
    """>0 when Debian version a is newer than b."""
    epoch_a, up_a, rev_a = _split(a)
    epoch_b, up_b, rev_b = _split(b)
    if epoch_a != epoch_b:
        return epoch_a - epoch_b
    return _part(up_a, up_b) or _part(rev_a, rev_b)
