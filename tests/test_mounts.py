"""Data lives on mounts: with a dataset folder mounted read-only at /data and a checkpoint
folder mounted writable at /workspace/checkpoints, the default user reads the one and
writes the other."""
import json

import pytest

from imagecheck.check import ImagecheckError, fail, skip_for
from imagecheck.image import mounts, probes
from imagecheck.image.mounts import MountsUnavailable


@pytest.fixture(scope="module")
def mounted(image):
    """What the default user saw and did in a container with both mounts (one per image)."""
    name, text = mounts.checkpoint_text()
    try:
        user = image.facts().default_user
        uid = user.get("uid", image.spec.user.uid if image.spec.user else None)
        gid = user.get("gid")
        with mounts.mounted_folders(image, uid, gid) as folders:
            probes.install(folders.container)
            args = json.dumps({"data": mounts.DATA_MOUNT, "expected": mounts.DATA_DIGESTS,
                               "checkpoints": mounts.CHECKPOINT_MOUNT, "checkpoint_name": name,
                               "checkpoint_bytes": text})
            data = probes.run(folders.container, "mounts", [args], timeout=image.spec.timeouts.probe).data
            on_host = folders.checkpoints / "run-1" / name
            data["checkpoints"]["on_host"] = on_host.exists() and on_host.read_text() == text
            data["checkpoint_folder"] = folders.checkpoint_owner
    except MountsUnavailable as error:
        skip_for(error)
    except ImagecheckError as error:
        fail(str(error))
    return data


def test_default_user_reads_the_read_only_data_mount(image, mounted, evidence):
    data = mounted["data"]
    evidence("mounts.data", {"listing": data.get("listing"), "files": data["files"]})
    problems = [f"{name}: {r.get('error') or 'content differs from the host'}"
                for name, r in data["files"].items() if not r["ok"]]
    if "listing_error" in data:
        problems.insert(0, f"listing {mounts.DATA_MOUNT}: {data['listing_error']}")
    assert data["ok"], (f"the default user (uid {mounted['uid']}) of {image.ref} cannot read the dataset mounted "
                        f"read-only at {mounts.DATA_MOUNT}:\n  " + "\n  ".join(problems))


def test_default_user_writes_the_checkpoint_mount(image, mounted, evidence):
    checkpoints = mounted["checkpoints"]
    evidence("mounts.checkpoints", {**checkpoints, "folder": mounted["checkpoint_folder"]})
    assert checkpoints["ok"] and checkpoints["on_host"], (
        f"the default user (uid {mounted['uid']}) of {image.ref} cannot write a checkpoint to the folder mounted "
        f"at {mounts.CHECKPOINT_MOUNT} ({mounted['checkpoint_folder']}): "
        f"{checkpoints.get('error') or 'the file did not reach the host intact'}")
