"""A multi-worker DataLoader (pin_memory, persistent workers) runs in the image with the
run options images.yaml documents; under Docker's default 64 MB /dev/shm it may not, and
then the image needs that option documented. The two runs go at once (their throughput is
evidence, measured beside each other, never judged)."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagecheck.image import probes
from imagecheck.rules import shm


def _args(image) -> str:
    spec = image.spec.dataloader
    return json.dumps({"num_workers": spec.num_workers, "batch_size": spec.batch_size,
                       "sample_mib": spec.sample_mib, "batches": spec.batches,
                       "timeout": max(20, min(60, image.spec.timeouts.dataloader // 5))})


def _documented(image) -> dict:
    """The dataloader probe in the image's shared container: it runs with the documented options."""
    return image.probe("dataloader", _args(image), timeout=image.spec.timeouts.dataloader).data


def _without_documented_options(image, role: str, **options) -> dict:
    """The dataloader probe in a container of its own, started without the documented run
    options (Docker's default 64 MB /dev/shm unless options say otherwise)."""
    with image.probe_container(role, documented_options=False, **options) as container:
        return probes.run(container, "dataloader", [_args(image)], timeout=image.spec.timeouts.dataloader).data


def _summary(result: dict | None) -> dict | None:
    if result is None:
        return None
    return {"ok": result.get("ok"), "shm_mib": (result.get("shm") or {}).get("size_mib"),
            "pin_memory": result.get("pin_memory"), "epochs": result.get("epochs"),
            "persistent": result.get("persistent"), "mib_per_second": result.get("mib_per_second"),
            "error": result.get("error"), "error_last_line": result.get("error_last_line")}


@pytest.mark.slow
def test_dataloader_runs_with_the_documented_run_options(image, evidence):
    spec = image.spec.dataloader
    evidence("dataloader.in_flight_mib", shm.in_flight_mib(spec))
    documented_flags = shm.documented_option(image.spec.run_options)
    with ThreadPoolExecutor(max_workers=2) as both:  # the two runs at once: each is judged, not timed
        documented_run = both.submit(_documented, image)
        default_run = both.submit(_without_documented_options, image, "dataloader-default") if documented_flags \
            else None
        documented = documented_run.result()
        default = default_run.result() if default_run is not None else None
    remedy = None
    if not documented.get("ok"):
        remedy = _without_documented_options(image, "dataloader-remedy", shm_size=shm.remedy_shm_size(spec))
    evidence("dataloader.documented_options", {"flags": documented_flags, **(_summary(documented) or {})})
    evidence("dataloader.docker_default_shm", _summary(default) if default is not None else "same run as above")
    if remedy is not None:
        evidence("dataloader.remedy", {"shm_size": shm.remedy_shm_size(spec), **_summary(remedy)})
    verdict = shm.judge(image.ref, spec, image.spec.run_options, documented, default, remedy)
    evidence("dataloader.finding", verdict.finding)
    if verdict.ok and documented.get("epochs"):
        workers = {w for e in documented["epochs"] for w in e["workers"]}
        assert len(workers) == spec.num_workers, (
            f"the DataLoader in {image.ref} used workers {sorted(workers)}, expected {spec.num_workers}")
        assert documented.get("persistent"), f"the DataLoader's persistent workers in {image.ref} did not stay alive"
    assert verdict.ok, verdict.finding
