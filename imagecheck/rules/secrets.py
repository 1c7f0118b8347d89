"""Credentials in an image: the patterns that find them and the redaction that hides them.

A finding says what kind of credential it is and where it was (an ENV variable, a build
step, a file and line); it never holds the secret itself, only a short redacted prefix
(`hf_a…(37 chars)`), so no report, log or test output can leak what it found. The file
scan runs inside the image (fixtures/probes/filesystem.py) with the same patterns, passed
to it as data, and redacts there before anything is printed.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

# How much of a value a finding may show, at most.
SHOWN_PREFIX = 4

# (kind, regular expression). A match's group "secret" (or the whole match) is the value.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("AWS access key id", r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b"),
    ("AWS secret access key", r"(?i)aws_secret_access_key\s*[=:]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})\b"),
    ("Hugging Face token", r"\b(?P<secret>hf_[A-Za-z0-9]{30,})\b"),
    ("GitHub token", r"\b(?P<secret>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,})\b"),
    ("GitHub fine-grained token", r"\b(?P<secret>github_pat_[A-Za-z0-9_]{40,})\b"),
    ("PyPI token", r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{40,})"),
    ("private key", r"(?P<secret>-----BEGIN (?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)"),
    ("password in a URL", r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:(?P<secret>[^/\s@\"']+)@[^\s\"']+"),
)

# ENV variables whose name says they hold a credential (value judged non-empty and long
# enough to be one, not a placeholder).
SECRET_NAME = re.compile(r"(?i)(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
                         r"CREDENTIALS?|AUTH_?TOKEN)$")
MIN_NAMED_SECRET = 8
# A value that stands for a credential without being one: a word from this set, a
# reference to one (`$VAR`, `${VAR}`, `{{ var }}`, `<token>`, `%VAR%`), or a mask (`****`,
# `xxxx`). The file probe gets these as data and applies the same rule.
PLACEHOLDERS = {"changeme", "<redacted>", "none", "null", "false", "true", "unset", "disabled"}
PLACEHOLDER_PREFIXES = ("$", "{", "<", "%")
PLACEHOLDER_CHARS = "*xX"


def compiled() -> list[tuple[str, re.Pattern]]:
    return [(kind, re.compile(pattern)) for kind, pattern in PATTERNS]


def redact(value: str) -> str:
    """A short prefix and the length: enough to recognise a finding, never the secret."""
    shown = value[:SHOWN_PREFIX] if len(value) > 2 * SHOWN_PREFIX else value[:1]
    return f"{shown}…({len(value)} chars)"


@dataclass(frozen=True)
class Finding:
    """A credential found in the image: its kind, where it was, and a redacted prefix."""

    kind: str
    where: str
    shown: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} ({self.shown})"


def scan_text(text: str, where: str) -> list[tuple[Finding, str]]:
    """Every pattern match in text, as (finding, the raw value). The raw value is for
    comparisons on this side only and must never be printed."""
    found = []
    for kind, pattern in compiled():
        for match in pattern.finditer(text):
            value = match.groupdict().get("secret") or match.group(0)
            if kind == "password in a URL" and is_placeholder(value):
                continue
            shown = "header only" if kind == "private key" else redact(value)
            found.append((Finding(kind, where, shown), value))
    return found


_PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?"
                                r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S)
_ASSIGNMENT = re.compile(r"\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\s\"';&|]+)")


def redact_text(text: str) -> str:
    """text with every credential in it replaced by its redacted form (a private key by a
    marker, NAME=value assignments whose name says credential by the redacted value), for
    showing what an image carries (its command, entrypoint, labels) in a report."""
    text = _PRIVATE_KEY_BLOCK.sub("[private key, redacted]", text)
    values = {value for _, value in scan_text(text, "")}
    values |= {m.group("value") for m in _ASSIGNMENT.finditer(text)
               if SECRET_NAME.search(m.group("name")) and _looks_like_a_value(m.group("value"))}
    for value in sorted(values, key=len, reverse=True):  # longest first: one may hold another
        text = text.replace(value, redact(value))
    return text


def redact_named(name: str, value: str) -> str:
    """A named value (a label, an ENV entry) fit to show: redacted whole when its name says
    credential, else with the credentials in it redacted."""
    if SECRET_NAME.search(name.replace(".", "_").replace("-", "_")) and _looks_like_a_value(value):
        return redact(value)
    return redact_text(value)


def scan_environment(env: list[str] | None, allowlist: list[str]) -> list[tuple[Finding, str]]:
    """ENV entries (NAME=value) that hold a credential, by value pattern or by name."""
    found: list[tuple[Finding, str]] = []
    for item in env or []:
        name, _, value = item.partition("=")
        if allowed(name, allowlist):
            continue
        hits = scan_text(value, f"ENV {name}")
        if not hits and SECRET_NAME.search(name) and _looks_like_a_value(value):
            hits = [(Finding("credential named by its variable", f"ENV {name}", redact(value)), value)]
        found.extend(hits)
    return found


def scan_history(history: list[dict], known_values: set[str], allowlist: list[str]) -> list[Finding]:
    """Credentials in the build history (RUN lines, build arguments, ARG defaults, ENV steps).

    A value that is still in the image's ENV is left to the ENV check (an `ENV X=...` step
    shows in the history too); one that a later step overwrote is reported here. A value
    assigned in the step to a name the allowlist names (`ARG GITHUB_TOKEN=...`, `ENV
    HF_TOKEN=...`) is expected, wherever in the step a pattern finds it."""
    findings = []
    total = len(history)
    for index, layer in enumerate(reversed(history), 1):  # oldest first, as `docker history` reads upward
        created_by = layer.get("CreatedBy") or ""
        where = f"build step {index} of {total} ({_describe_step(created_by)})"
        expected = [value for name, value in _assignments(created_by) if allowed(name, allowlist)]
        for finding, value in scan_text(created_by, where):
            if value in known_values or any(value in allowed_value for allowed_value in expected):
                continue
            findings.append(finding)
        for name, value in _build_arguments(created_by):
            if allowed(name, allowlist) or value in known_values:
                continue
            if SECRET_NAME.search(name) and _looks_like_a_value(value) and not scan_text(value, ""):
                findings.append(Finding("credential named by its build argument", f"{where}, build argument {name}",
                                        redact(value)))
    return _unique(findings)


def environment_findings(env: list[str] | None, allowlist: list[str]) -> list[Finding]:
    """What scan_environment finds, without the raw values (safe to keep and show)."""
    return [finding for finding, _ in scan_environment(env, allowlist)]


def history_findings(history: list[dict], env: list[str] | None, allowlist: list[str]) -> list[Finding]:
    """What scan_history finds, leaving to the ENV check the values still in the ENV (also
    those the allowlist lets the ENV check pass: they are expected, not history's to report)."""
    return scan_history(history, {value for _, value in scan_environment(env, [])}, allowlist)


HOST_KEY_HINT = ("delete them in the build (rm -f /etc/ssh/ssh_host_*) and make host keys when the container "
                 "starts (ssh-keygen in the start script, to a HostKey outside the image's files)")


def host_key_findings(host_keys: list[dict], ssh_promised: bool, allowlist: list[str]) -> list[Finding]:
    """The private SSH host keys in the image's files (the file probe's ssh_host_keys:
    path, type, where sshd's configuration names it, or None) that are findings: every
    key sshd's configuration does not name (never served, yet everyone who pulls the image
    holds it and a HostKey change serves it), and, where images.yaml promises no ssh port
    (so no check compares the keys two containers serve), also those it names. A key the
    configuration names in an image that promises ssh is the served-key check's to judge."""
    found = []
    for key in host_keys:
        if allowed(key["path"], allowlist):
            continue
        kind = f"private SSH host key, type {key['type']}"
        if key.get("configured") is None:
            found.append(Finding(kind, key["path"], "not served: no HostKey of sshd's configuration names it"))
        elif not ssh_promised:
            found.append(Finding(kind, key["path"], f"served by any sshd the image starts: {key['configured']}"))
    return found


def allowed(name_or_path: str, allowlist: list[str]) -> bool:
    """Whether an allowlist of images.yaml's security section (secret_allowlist,
    setuid_allowlist: names or paths, fnmatch patterns) names it."""
    return any(fnmatch.fnmatchcase(name_or_path, pattern) for pattern in allowlist)


def _looks_like_a_value(value: str) -> bool:
    value = value.strip().strip("\"'")
    return (len(value) >= MIN_NAMED_SECRET and value.lower() not in PLACEHOLDERS
            and not value.startswith(("$", "/", "file:")))


def is_placeholder(value: str) -> bool:
    """Whether a value stands for a credential without being one (see PLACEHOLDERS)."""
    return (value.lower() in PLACEHOLDERS or value.startswith(PLACEHOLDER_PREFIXES)
            or set(value) <= set(PLACEHOLDER_CHARS))


# The classic builder writes `|1 A=x /bin/sh -c ...` and `/bin/sh -c #(nop)  ARG A=x`;
# BuildKit writes `RUN |1 A=x /bin/sh -c ...` and `ARG A=x`.
_STEP_ARGS = re.compile(r"^(?:RUN\s+)?\|(\d+)\s+")
_ARG_LINE = re.compile(r"(?:#\(nop\)\s+|^)ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\S+)")
_ENV_LINE = re.compile(r"(?:#\(nop\)\s+|^)ENV\s+(?P<rest>.+)$", re.S)


def _build_arguments(created_by: str) -> list[tuple[str, str]]:
    """NAME=value pairs of the build arguments a step saw: `|N A=x B=y /bin/sh -c ...`
    (RUN with build arguments) and `#(nop) ARG A=x` (ARG defaults)."""
    pairs = []
    head = _STEP_ARGS.match(created_by.strip())
    if head:
        rest = created_by.strip()[head.end():].split()
        for token in rest[: int(head.group(1))]:
            name, sep, value = token.partition("=")
            if sep:
                pairs.append((name, value))
    arg = _ARG_LINE.search(created_by.strip())
    if arg:
        pairs.append((arg.group("name"), arg.group("value")))
    return pairs


def _assignments(created_by: str) -> list[tuple[str, str]]:
    """NAME=value pairs a step assigns: its build arguments, and the variables of an ENV
    step (`ENV A=x B=y`, or the old `ENV A x`)."""
    pairs = _build_arguments(created_by)
    env = _ENV_LINE.search(created_by.strip())
    if env:
        words = env.group("rest").split()
        if words and "=" not in words[0]:
            pairs.append((words[0], " ".join(words[1:]).strip("\"'")))
        for word in words:
            name, sep, value = word.partition("=")
            if sep:
                pairs.append((name, value.strip("\"'")))
    return pairs


def _describe_step(created_by: str) -> str:
    """The step's instruction (RUN, ARG, ENV, COPY...), never its arguments."""
    text = created_by.strip()
    nop = re.match(r"^/bin/sh -c #\(nop\)\s*(\w+)", text)
    if nop:
        return nop.group(1)
    if _STEP_ARGS.match(text):
        return "RUN with build arguments"
    if text.startswith("/bin/sh -c "):
        return "RUN"
    word = re.match(r"^(\w+)", text)
    return word.group(1) if word else "step"


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
