"""Image references as the distribution registry's grammar writes them:
`[domain[:port]/]path[:tag][@digest]`, e.g. `pytorch-cuda:v2.6`,
`registry.example.com:5000/ml/pytorch-cuda:v2.6`, `ml/pytorch-cuda@sha256:<64 hex>`.

parse() says what is wrong with a reference before any engine sees it (upper case in the
path, a space, a shell character, a tag too long), and splits a valid one into the
registry, the repository, the tag and the digest. Pure: no engine, no network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
NAME_LIMIT = 255
DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference: registry (None: Docker Hub), repository path, tag and digest."""

    text: str
    registry: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """The repository as the engine names it in RepoDigests (registry/path)."""
        return f"{self.registry}/{self.path}" if self.registry else self.path

    @property
    def pull_tag(self) -> str:
        """What to ask the registry for: the digest, else the tag, else `latest`."""
        return self.digest or self.tag or "latest"

    def describe(self) -> str:
        where = self.registry or f"{DEFAULT_REGISTRY} (no registry named)"
        what = f"digest {self.digest}" if self.digest else f"tag {self.tag or 'latest'}"
        return f"repository {self.path} on {where}, {what}"


class BadReference(ValueError):
    """A reference the grammar refuses; str() says what and where in it."""


def parse(text: str) -> ImageReference:
    """The parts of a reference; BadReference saying what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise BadReference("it is empty")
    bad = sorted({c for c in text if c.isspace() or c in ";|&$`'\"<>(){}\\!*?#,"})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise BadReference(f"it holds characters no reference can hold ({shown})")
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not re.fullmatch(_DIGEST, digest):
            raise BadReference(f"the digest {digest!r} is not ALGORITHM:HEX (sha256:<64 hex digits>)")
    registry = None
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not re.fullmatch(_DOMAIN, first):
            raise BadReference(f"the registry {first!r} is not a host name with an optional :port")
        registry, rest = first, remainder
    tag = None
    path, colon, maybe_tag = rest.rpartition(":")
    if colon:
        tag = maybe_tag
        if not re.fullmatch(_TAG, tag):
            raise BadReference(f"the tag {tag!r} is not 1 to 128 letters, digits, '_', '.' or '-' "
                               "(not starting with '.' or '-')")
    else:
        path = rest
    if not path:
        raise BadReference("it names no repository")
    if path != path.lower() and re.fullmatch(_PATH, path.lower()):
        raise BadReference(f"the repository {path!r} has upper-case letters; repositories are lower case")
    if not re.fullmatch(_PATH, path):
        raise BadReference(f"the repository {path!r} is not lower-case words (a-z, 0-9, separated by '.', '_', "
                           "'__' or '-') joined by '/'")
    if len(f"{registry}/{path}" if registry else path) > NAME_LIMIT:
        raise BadReference(f"the name is longer than {NAME_LIMIT} characters")
    return ImageReference(text, registry, path, tag, digest)


def problem(text: str) -> str | None:
    """What is wrong with a reference, or None when the grammar accepts it."""
    try:
        parse(text)
    except BadReference as error:
        return str(error)
    return None


def judged_identity(reference: ImageReference, image_id: str | None, repo_digests: list[str]) -> str | None:
    """What a sign-off is about: the repository digest of the image as this reference names
    it (REPO@sha256:...), else any repository digest it carries, else its image ID (an image
    never pushed has no digest)."""
    if reference.digest:
        return f"{reference.repository}@{reference.digest}"
    mine = [d for d in repo_digests if d.rpartition("@")[0] == reference.repository]
    return (mine or sorted(repo_digests) or [image_id])[0]
