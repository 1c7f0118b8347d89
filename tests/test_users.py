"""The image runs as a non-root user, the one images.yaml names, who can write HOME, /tmp
and the caches torch and triton write. Judged from the facts probe's identity section
(the default user's uid, name and groups, /tmp and the folders tried for real)."""
import pytest

from imagecheck.check import fail, not_applicable
from imagecheck.runtime import testinfra_bridge

pytestmark = pytest.mark.facts


@pytest.fixture
def identity(image, facts) -> dict:
    """The facts probe's identity section: who the default user is and where it can write."""
    section = facts.identity
    if "error" in section:
        fail(f"the identity probe failed in {image.ref}: {section['error']}")
    return section


def _groups_missing_from_etc_group(image, groups: list[str]) -> list[str]:
    """Which of these groups /etc/group lacks (testinfra's group module; asked only when a
    promised group is missing, to say why)."""
    host = testinfra_bridge.host(image.shared_container(), timeout=image.spec.timeouts.command)
    return [group for group in groups if not host.group(group).exists]


def test_default_user_is_not_root(image, identity, evidence):
    configured = image.config.get("User") or ""
    uid = identity["user"]["uid"]
    evidence("user.configured", configured or "(none: root)")
    evidence("user.uid", uid)
    assert configured.split(":")[0] not in ("", "root", "0") and uid != 0, (
        f"{image.ref} runs as root: {f'its USER is {configured!r}' if configured else 'it sets no USER'} and "
        f"`id -u` inside is {uid}"
        "\n  hint: add a user (useradd --uid 1000 ...) and end the Dockerfile with USER <name>")


def test_default_user_is_as_promised(image, identity, evidence):
    promised = image.spec.user
    if promised is None:
        not_applicable(f"images.yaml promises no user for {image.ref}")
    user = identity["user"]
    seen = {"name": user["name"], "uid": user["uid"], "groups": user["group_names"]}
    evidence("user.seen", seen)
    problems = []
    if seen["name"] != promised.name:
        problems.append(f"name is {seen['name']!r}, images.yaml expects {promised.name!r}"
                        + (f" (uid {seen['uid']} has no entry in /etc/passwd: {user['passwd_error']})"
                           if seen["name"] is None else ""))
    if seen["uid"] != promised.uid:
        problems.append(f"uid is {seen['uid']}, images.yaml expects {promised.uid}")
    missing = [g for g in promised.groups if g not in seen["groups"]]
    if missing:
        absent = _groups_missing_from_etc_group(image, missing)
        problems.append(f"groups are {', '.join(seen['groups'])}; missing {', '.join(missing)} that images.yaml lists"
                        + (f" ({', '.join(absent)} not even in /etc/group)" if absent else ""))
    assert not problems, f"the default user of {image.ref} (`id` inside):\n  " + "\n  ".join(problems)


def test_home_is_writable(image, identity, evidence):
    home = identity["home"]
    evidence("home", home)
    assert home["ok"], (f"the default user of {image.ref} cannot write its HOME {home['path']}: "
                        f"{home.get('error')}\n  hint: HOME must belong to the user (useradd --create-home)")


def test_tmp_is_world_writable_and_sticky(image, identity, evidence):
    tmp = identity["tmp"]
    evidence("tmp", tmp)
    assert tmp["exists"] and tmp["is_dir"], (
        f"{image.ref} has no /tmp ({tmp.get('error', 'not a folder')}); Python, torch and triton need a "
        "temporary folder\n  hint: RUN install -d -m 1777 /tmp")
    assert tmp["mode"] == oct(0o1777), (f"/tmp in {image.ref} has mode {tmp['mode']}, expected 0o1777 "
                                        "(world-writable, sticky)\n  hint: RUN chmod 1777 /tmp")
    assert tmp["write"]["ok"], f"the default user of {image.ref} cannot write /tmp: {tmp['write'].get('error')}"


def test_torch_and_triton_caches_are_writable(image, identity, evidence):
    caches = identity["caches"]
    evidence("caches", {name: {"path": c.get("path"), "ok": c["ok"]} for name, c in caches.items()})
    failed = [f"{name} ({c.get('path')}): {c.get('error')}" for name, c in caches.items() if not c["ok"]]
    assert not failed, (f"the default user of {image.ref} cannot write the caches torch.compile and triton use:\n  "
                        + "\n  ".join(failed) + "\n  hint: make them writable, or point TORCHINDUCTOR_CACHE_DIR "
                        "and TRITON_CACHE_DIR at a writable folder")
