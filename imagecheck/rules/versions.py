"""Version strings as images.yaml states them and as packages report them."""
from __future__ import annotations

import re

_NUMERIC = re.compile(r"\d+")


def public(version: str) -> str:
    """The public part of a version: '2.6.0+cu124' -> '2.6.0'."""
    return version.split("+", 1)[0].strip()


def components(version: str) -> tuple[int, ...]:
    """Leading numeric release components: '2.6.0rc1+cu124' -> (2, 6, 0)."""
    out: list[int] = []
    for piece in public(version).split("."):
        m = _NUMERIC.match(piece)
        if not m:
            break
        out.append(int(m.group()))
        if m.end() != len(piece):
            break
    return tuple(out)


def matches(expected: str, observed: str | None) -> bool:
    """True when observed satisfies expected.

    '2.6' accepts any 2.6.x, '2.6.0' accepts '2.6.0+cu124'; an expected local part
    ('2.6.0+cu124') must match exactly.
    """
    if observed is None:
        return False
    if "+" in expected:
        return expected.strip() == observed.strip()
    want = public(expected).split(".")
    have = public(observed).split(".")
    return have[: len(want)] == want


def major_minor(version: str) -> str:
    """'2.6.0+cu124' -> '2.6'."""
    parts = components(version)
    return ".".join(str(p) for p in parts[:2])
