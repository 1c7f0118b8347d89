"""A multi-worker DataLoader (pin_memory, persistent workers) runs in the image with the
run options images.yaml documents; under Docker's default 64 MB /dev/shm it may not, and
then the image needs that option documented. The two runs begin beside the facts probe and
go at once (image/dataloader_runs.py: their throughput is evidence, measured beside other
work, never judged)."""
import pytest

from imagecheck.image import dataloader_runs
from imagecheck.rules import shm


def _summary(result: dict | None) -> dict | None:
    if result is None:
        return None
    return {"ok": result.get("ok"), "shm_mib": (result.get("shm") or {}).get("size_mib"),
            "pin_memory": result.get("pin_memory"), "epochs": result.get("epochs"),
            "persistent": result.get("persistent"), "mib_per_second": result.get("mib_per_second"),
            "error": result.get("error"), "error_last_line": result.get("error_last_line")}


@pytest.mark.slow
@pytest.mark.dataloader  # both runs begin beside the facts probe (image/companions.py), once per image
def test_dataloader_runs_with_the_documented_run_options(image, evidence):
    spec = image.spec.dataloader
    evidence("dataloader.in_flight_mib", shm.in_flight_mib(spec))
    runs = dataloader_runs.result(image)
    documented, default, documented_flags = runs.documented, runs.default, runs.documented_flags
    remedy = None
    if not documented.get("ok"):
        remedy = dataloader_runs.without_documented_options(image, "dataloader-remedy",
                                                            shm_size=shm.remedy_shm_size(spec))
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
