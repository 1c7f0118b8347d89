"""torch.compile works on torchvision models in the image: the compiled output matches
eager within images.yaml's tolerance, Dynamo really captured the graphs and Inductor
built them (no silent fallback to eager); compile time and speedup are evidence.

On a host that grants a GPU it runs the image's `compile.gpu_models` on CUDA; on a CPU
host, its shorter `compile.cpu_models` on CPU, so CI exercises it in minutes. The models
compile in parallel processes where the host has the cores (rules/compile_plan.py), begun
beside the facts probe while the image's other checks run (image/compile_run.py); their
eager and compiled timings are taken one model at a time once the image's other work has
ended, so the speedups stay honest. Compile times are measured beside other work.
"""
import pytest

from imagecheck.check import ImagecheckError, fail, not_applicable, record_perf
from imagecheck.image import compile_run
from imagecheck.rules.toolchain import explain_missing


def _compile(image, evidence, device: str, models: list[str]) -> None:
    if not models:
        not_applicable(f"images.yaml lists no compile.{device.replace('cuda', 'gpu')}_models for {image.ref}")
    failures, results = [], {}
    shared = device == "cuda" and image.gpu.shared  # another xdist worker uses the same GPU
    try:
        run, every = compile_run.result(image)  # timed once the image's background work has ended
    except ImagecheckError as error:
        fail(f"torch.compile of {', '.join(models)} could not run in {image.ref}: {error}")
    evidence(f"compile.{device}.plan", run.plan.describe())
    for model in models:
        result = every["models"].get(model) or {"ok": False, "stage": "start", "error": "no result"}
        results[model] = result
        evidence(f"compile.{device}.{model}", {k: result.get(k) for k in (
            "compile_seconds", "eager_ms", "compiled_ms", "speedup", "max_abs_diff", "capture", "stage", "error")})
        figures = [(measure, result[key], unit) for measure, key, unit in
                   (("compile", "compile_seconds", "s"), ("speedup", "speedup", "x"))
                   if isinstance(result.get(key), (int, float))]
        if shared:  # not the image's figures: recorded as plain evidence, never baselined
            evidence(f"compile.{device}.{model}.on_a_shared_gpu", {
                **{f"{measure}_{unit}": value for measure, value, unit in figures},
                "note": f"measured on a GPU shared with another xdist worker ({image.gpu.describe()}): "
                        "not a perf figure (no baseline)"})
        else:
            for measure, value, unit in figures:
                record_perf(evidence, f"compile.{device}.{model}", measure, value, unit)
        if not result.get("ok"):
            if result.get("stage") == "device":  # no model can run: say so once
                fail(f"torch.compile on CUDA cannot run in {image.ref}: {result.get('error')}, although the "
                     f"container was granted {image.gpu.granted} GPU(s) (see test_cuda_is_available)")
            gap = explain_missing(image.ref, result.get("toolchain") or {}, device)
            if gap:  # every model would fail the same way: say exactly what the image lacks, once
                fail(f"{gap}\n  {model} failed at the {result.get('stage')} stage: {result.get('error')}")
            tail = "\n      ".join(result.get("traceback_tail") or [])
            failures.append(f"{model}: failed at the {result.get('stage')} stage: {result.get('error')}\n      {tail}")
            continue
        failures += _judge(image, device, model, result)
    evidence(f"compile.{device}.summary", {m: {"compile_s": r.get("compile_seconds"), "speedup": r.get("speedup")}
                                           for m, r in results.items()})
    assert not failures, (f"torch.compile on {device.upper()} fails for {len(failures)} of {len(models)} "
                          f"torchvision model(s) in {image.ref}:\n  " + "\n  ".join(failures))


def _judge(image, device: str, model: str, result: dict) -> list[str]:
    spec = image.spec.compile
    capture = result.get("capture") or {}
    problems = []
    if capture.get("unique_graphs", 0) < 1 or capture.get("calls_captured", 0) < 1:
        problems.append(f"{model}: Dynamo captured no graph ({capture.get('unique_graphs')} graphs, "
                        f"{capture.get('calls_captured')} calls): the compiled model ran in eager")
    elif not capture.get("inductor") and not capture.get("generated_kernels"):
        problems.append(f"{model}: Dynamo captured {capture['unique_graphs']} graph(s) but Inductor built "
                        "nothing: the compiled model ran in eager")
    if result["shape"] != result["expected_shape"] or not result.get("finite"):
        problems.append(f"{model}: compiled output has shape {result['shape']} (finite: {result.get('finite')}), "
                        f"eager {result['expected_shape']}")
    elif not result.get("allclose"):
        problems.append(f"{model}: compiled output differs from eager by up to {result['max_abs_diff']:.3g} "
                        f"(eager outputs up to {result['max_abs_expected']:.3g}); images.yaml allows atol "
                        f"{spec.atol}, rtol {spec.rtol}")
    return problems


@pytest.mark.slow
@pytest.mark.measures
@pytest.mark.compiles  # the compiles begin beside the facts probe (image/companions.py)
def test_compiled_models_match_eager_on_cpu(image, evidence):
    if image.gpu.granted:
        not_applicable(f"this host grants {image.gpu.granted} GPU(s): torch.compile is checked on CUDA "
                    "(test_compiled_models_match_eager_on_cuda)")
    _compile(image, evidence, "cpu", image.spec.compile.cpu_models)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.measures
@pytest.mark.compiles  # the compiles begin beside the facts probe (image/companions.py)
def test_compiled_models_match_eager_on_cuda(image, evidence, require_gpus):
    require_gpus(1)
    _compile(image, evidence, "cuda", image.spec.compile.gpu_models)
