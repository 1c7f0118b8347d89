"""Cleaning up a mounted folder never follows a link the image left in it: what a container
wrote on the checkpoint mount (files, a symlink to a file of the host, a symlink to a folder
of the host) is removed, and the host's own file and folder the links point at are not.
Real Docker, the reference image, the suite's own mount code (image/mounts.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import REFERENCE, ROOT
from imagecheck import config
from imagecheck.image import mounts
from imagecheck.image.run_context import RunContext
from imagecheck.image.under_test import ImageUnderTest
from imagecheck.runtime import engine, gpu
from imagecheck.runtime.lifecycle import RunIdentity, new_run_id


@pytest.fixture
def image(fixture_image):
    fixture_image(REFERENCE)
    spec, _ = config.load(ROOT / "images.yaml").spec_for(REFERENCE)
    context = RunContext(RunIdentity(new_run_id()), engine.connect,
                         lambda client: gpu.choose("none", "all", gpu.DEFAULT_DRIVER_DIR, client))
    under_test = ImageUnderTest(REFERENCE, spec, context)
    yield under_test
    under_test.close()


def test_links_the_image_left_on_a_mount_are_removed_not_followed(image, tmp_path: Path):
    victim_file = tmp_path / "host-file"
    victim_file.write_text("the host's own file\n")
    victim_dir = tmp_path / "host-folder"
    victim_dir.mkdir()
    (victim_dir / "inside").write_text("the host's own folder\n")
    tmp_path.chmod(0o755)
    with mounts.mounted_folders(image, 1000, 1000) as folders:
        checkpoints = mounts.CHECKPOINT_MOUNT
        wrote = folders.container.exec(["/bin/sh", "-c", f"ln -s {victim_file} {checkpoints}/to-file && "
                                        f"ln -s {victim_dir} {checkpoints}/to-folder && "
                                        f"mkdir {checkpoints}/run && ln -s {victim_dir} {checkpoints}/run/deep && "
                                        f"echo x > {checkpoints}/run/model.ckpt"], timeout=60)
        assert wrote.ok, wrote.tail()
        on_host = folders.checkpoints
        assert (on_host / "to-file").is_symlink() and (on_host / "run" / "deep").is_symlink()
    assert not on_host.exists(), "the checkpoint folder outlived its container"
    assert victim_file.read_text() == "the host's own file\n"
    assert (victim_dir / "inside").read_text() == "the host's own folder\n"
