"""Images from a registry, against a real one (the distribution registry on 127.0.0.1):
the reference image pushed there is validated by tag and by digest from an engine that
does not hold it under that name (the suite pulls it first, with progress lines), and each
way a pull fails says which: a missing tag (naming the tags there are), an unknown
repository, a registry that is down, a registry that refuses the credentials. Nothing is
left behind. The push of the 6 GB reference happens once for this module."""
from __future__ import annotations

import json
from types import SimpleNamespace

import docker
import pytest

from helpers import REFERENCE, ROOT, labelled_containers, run_inner
from registry import Registry

REMOTE = "imagecheck/pytorch-cuda"
CHECKS = ("tests/test_versions.py", "tests/test_imports.py")
ONE_CHECK = ("tests/test_versions.py",)


def push(client: docker.DockerClient, ref: str) -> str:
    """Push ref; the digest the registry gave it."""
    repository, _, tag = ref.rpartition(":")
    digest = None
    for event in client.images.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in event, f"push of {ref} failed: {event}"
        digest = (event.get("aux") or {}).get("Digest") or digest
    assert digest, f"the registry gave {ref} no digest"
    return digest


def forget(client: docker.DockerClient, ref: str) -> None:
    """Untag ref on this engine (the image and its layers stay under their other names)."""
    try:
        client.images.remove(ref)
    except docker.errors.ImageNotFound:
        pass


def holds(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    served = Registry(tmp_path_factory.mktemp("registry")).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def pushed(registry, docker_client, fixture_image, tmp_path_factory):
    """The reference pushed as REGISTRY/imagecheck/pytorch-cuda:v2.6, then untagged here;
    `promises` is an images file that gives its tag and its digest the reference's promises."""
    fixture_image(REFERENCE)
    tag = f"{registry.address}/{REMOTE}:v2.6"
    docker_client.images.get(REFERENCE).tag(tag)
    digest = push(docker_client, tag)
    forget(docker_client, tag)
    by_digest = f"{registry.address}/{REMOTE}@{digest}"
    promises = tmp_path_factory.mktemp("promises") / "images.yaml"
    promises.write_text((ROOT / "images.yaml").read_text()
                        + "".join(f"  {ref}:\n    <<: *v26\n    run_by_default: false\n" for ref in (tag, by_digest)))
    yield SimpleNamespace(tag=tag, digest=by_digest, promises=f"--images-file={promises}")
    forget(docker_client, tag)
    forget(docker_client, by_digest)


@pytest.fixture
def no_leftovers(docker_client):
    yield
    assert labelled_containers(docker_client) == [], "a run left containers behind"


def test_a_pushed_image_is_validated_by_tag_after_a_pull(pushed, tmp_path, docker_client, no_leftovers):
    assert not holds(docker_client, pushed.tag)
    run = run_inner(tmp_path, pushed.promises, "--image", pushed.tag, "--signoff-report", str(tmp_path / "report"),
                    tests=CHECKS, timeout=900)
    assert run.ret == 0, run.stdout[-3000:] + run.stderr[-2000:]
    output = run.stdout + run.stderr
    assert f"pulling {pushed.tag}" in output and f"pulled {pushed.tag}" in output
    assert len(run.names("passed")) == len(run.outcomes) > 0
    image = json.loads((tmp_path / "report" / "report.json").read_text())["images"][0]
    assert image["judged"] == pushed.digest  # the verdict names the digest, not the tag
    assert pushed.digest in image["image"]["repo_digests"]
    forget(docker_client, pushed.tag)


def test_a_pushed_image_is_validated_by_digest(pushed, tmp_path, docker_client, no_leftovers):
    forget(docker_client, pushed.digest)
    assert not holds(docker_client, pushed.digest)
    run = run_inner(tmp_path, pushed.promises, "--image", pushed.digest, "--signoff-report", str(tmp_path / "report"),
                    tests=CHECKS, timeout=900)
    assert run.ret == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert len(run.names("passed")) == len(run.outcomes) > 0  # judged against the reference's promises
    assert f"pulling {pushed.digest}" in run.stdout + run.stderr
    image = json.loads((tmp_path / "report" / "report.json").read_text())["images"][0]
    assert image["ref"] == pushed.digest and image["judged"] == pushed.digest


def _failed_pull(tmp_path, ref: str, *args: str, pulls: int = 1):
    """A run whose image cannot be had: every check errors with the one message, and the
    pull was tried `pulls` times (once, or never under --pull never)."""
    run = run_inner(tmp_path, "--image", ref, *args, tests=ONE_CHECK, timeout=600)
    assert run.ret == 1, run.stdout[-2000:]
    problems = run.names("error") | run.names("failed")
    assert problems == set(run.outcomes) and problems, run.stdout[-2000:]
    messages = {run.message(name).split("\n  (the first attempt failed")[0] for name in problems}
    assert len(messages) == 1, f"the checks report different causes: {messages}"
    assert (run.stdout + run.stderr).count(f"pulling {ref} (") == pulls, "the pull was not tried as often as it should"
    assert "Traceback" not in run.stdout
    return messages.pop()


def test_a_missing_tag_names_the_tags_the_repository_holds(pushed, registry, tmp_path, no_leftovers):
    message = _failed_pull(tmp_path, f"{registry.address}/{REMOTE}:v9.9")
    assert f"the repository {REMOTE} on {registry.address} has no tag v9.9" in message
    assert "its tags: v2.6" in message and "hint: use one of its tags" in message


def test_an_unknown_repository_is_named(registry, tmp_path, no_leftovers):
    message = _failed_pull(tmp_path, f"{registry.address}/nobody/nothing:1")
    assert f"the registry {registry.address} has no repository nobody/nothing" in message
    assert "hint: check the repository's name" in message


def test_a_registry_that_is_down_is_named(tmp_path_factory, tmp_path, no_leftovers):
    stopped = Registry(tmp_path_factory.mktemp("stopped")).start()
    stopped.stop()
    message = _failed_pull(tmp_path, f"{stopped.address}/{REMOTE}:v2.6")
    assert f"the registry {stopped.address} did not answer the pull" in message
    assert "connection refused" in message and "hint: start the registry" in message


def test_a_registry_that_refuses_the_credentials_says_to_log_in(tmp_path_factory, tmp_path, monkeypatch,
                                                                no_leftovers):
    locked = Registry(tmp_path_factory.mktemp("locked"), credentials=("imagecheck", "s3cret-selftest")).start()
    try:
        config = tmp_path / "docker-config"
        config.mkdir()
        (config / "config.json").write_text(json.dumps({"auths": {locked.address: {"auth": "d3Jvbmc6d3Jvbmc="}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(config))  # wrong:wrong, as a stale `docker login` leaves it
        message = _failed_pull(tmp_path, f"{locked.address}/{REMOTE}:v2.6")
    finally:
        locked.stop()
    assert f"the registry {locked.address} refused to let this engine pull" in message
    assert f"hint: `docker login {locked.address}`" in message
    assert "s3cret-selftest" not in message


def test_pull_never_refuses_an_image_the_engine_lacks(pushed, tmp_path, docker_client, no_leftovers):
    forget(docker_client, pushed.tag)
    message = _failed_pull(tmp_path, pushed.tag, "--pull", "never", pulls=0)
    assert f"image {pushed.tag} is not present on this Docker engine" in message
    assert "--pull never" in message and "make fixtures" in message
    assert not holds(docker_client, pushed.tag)
