"""The suite's command line: options, parametrization by image, and every usage error
(exit code 4 with a message that says what was wrong; never a traceback); a broken images
file stops the run before any check; --images-file works in both forms from any folder,
through pytest and through the `imagecheck` console script."""
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REFERENCE, ROOT, run_inner

CONFIGS = ROOT / "fixtures" / "configs"
PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")
CONSOLE_SCRIPT = Path(sys.executable).parent / "imagecheck"
TORCH_PROMISES = ("-k", "test_version_is_as_promised and torch and not vision and not audio")
BOTH_IMAGES = ["*test_version_is_as_promised?example/pytorch:1-torch?*",
               "*test_version_is_as_promised?example/pytorch:2-torch?*"]


def run(pytester, *args):
    return run_inner(pytester.path, *args, timeout=300)


def test_help_lists_the_imagecheck_options(pytester):
    result = run(pytester, "--help")
    assert result.ret == 0
    result.lines.fnmatch_lines(["*imagecheck: validate PyTorch + CUDA container images*",
                                 "*--image=REF*Image to validate (repeatable)*",
                                 "*--gpu-mode=MODE*", "*--require-gpu*"])


def test_bad_gpu_mode_is_a_usage_error(pytester):
    result = run(pytester, "--gpu-mode", "bogus", "--co")
    assert result.ret == 4
    result.lines.fnmatch_lines(["*--gpu-mode 'bogus': expected one of auto, toolkit, devices, none*"])


def test_bad_gpus_is_a_usage_error(pytester):
    result = run(pytester, "--gpus", "first", "--co")
    assert result.ret == 4
    result.lines.fnmatch_lines(["*--gpus 'first': expected 'all', a count such as 2, or indices such as 0,1*"])


def test_blank_image_reference_is_a_usage_error(pytester):
    result = run(pytester, "--image", "pytorch cuda", "--co")
    assert result.ret == 4
    result.lines.fnmatch_lines(["*--image 'pytorch cuda': expected an image reference*"])


def test_broken_images_file_is_a_usage_error_naming_file_image_and_key(pytester):
    result = run(pytester, "--images-file", str(CONFIGS / "wrong_type.yaml"), "--co")
    assert result.ret == 4
    result.lines.fnmatch_lines(["*images.yaml is not valid*",
                                 "*wrong_type.yaml: image 'example/pytorch:1', key 'user.uid': expected an integer*"])
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_images_file_is_a_usage_error(pytester, tmp_path: Path):
    result = run(pytester, "--images-file", str(tmp_path / "nowhere.yaml"), "--co")
    assert result.ret == 4
    result.lines.fnmatch_lines(["*nowhere.yaml: cannot read it*--images-file*"])


def test_without_image_every_listed_image_runs(pytester):
    result = run(pytester, "--images-file", str(CONFIGS / "valid.yaml"), "--co", "-q",
                 "-k", "test_version_is_as_promised and torch and not vision and not audio")
    assert result.ret == 0
    result.lines.fnmatch_lines(["*test_version_is_as_promised?example/pytorch:1-torch?*",
                                 "*test_version_is_as_promised?example/pytorch:2-torch?*"])


def test_image_option_is_repeatable_and_ids_carry_the_reference(pytester):
    result = run(pytester, "--image", REFERENCE, "--image", "someone/else:1", "--co", "-q",
                 "-k", "test_pip_check_is_clean")
    assert result.ret == 0
    result.lines.fnmatch_lines([f"*test_pip_check_is_clean?{REFERENCE}?*", "*test_pip_check_is_clean?someone/else:1?*"])


def test_header_says_when_an_image_is_not_in_images_yaml(pytester):
    result = run(pytester, "--image", "someone/else:1", "--image", REFERENCE, "--co")
    assert result.ret == 0
    result.lines.fnmatch_lines(["*imagecheck: expectations from*images.yaml*",
                                 "*image someone/else:1: not in images.yaml, runs with the defaults*",
                                 f"*image {REFERENCE}", "*GPU access: *"])


# Each broken file and what its message must hold besides the file's path: where (image,
# key, line), what is wrong (expected, observed) and a hint.
BROKEN_FILES = [
    ("duplicate_top_key.yaml", ["key 'images': written twice (line 2 and line 5)", "expected each key once", "hint:"]),
    ("duplicate_image_key.yaml", ["image 'example/pytorch:1', key 'torch': written twice (line 4 and line 6)",
                                  "observed '2.6.0' then '2.5.0'", "hint:"]),
    ("duplicate_nested_key.yaml", ["defaults, key 'timeouts.probe': written twice (line 4 and line 6)",
                                   "observed '200' then '20'", "hint:"]),
    ("duplicate_image.yaml", ["images: image 'example/pytorch:1' is listed twice (line 3 and line 7)", "hint:"]),
    ("negative_timeout.yaml", ["image 'example/pytorch:1', key 'timeouts.probe': expected an integer > 0 (seconds), "
                               "got the number -5 (line 5)", "hint:"]),
    ("zero_batch_size.yaml", ["defaults, key 'dataloader.batch_size': expected an integer >= 1, got the number 0 "
                              "(line 5)", "hint:"]),
    ("negative_tolerance.yaml", ["image 'example/pytorch:1', key 'compile.atol': expected a number >= 0, "
                                 "got the number -0.1 (line 4)", "hint:"]),
    ("perf_drop_above_one.yaml", ["key 'regression.max_perf_drop': expected a number from 0 to 1, got the number 1.5 "
                                  "(line 4)", "hint:"]),
    ("port_out_of_range.yaml", ["key 'ports.70000': expected a TCP port from 1 to 65535, got the number 70000 (line 6)",
                                "hint:"]),
    ("zero_pids_limit.yaml", ["key 'limits.pids': expected an integer >= 1, got the number 0 (line 4)", "hint:"]),
    ("bad_memory_limit.yaml", ["key 'limits.memory': expected a docker size above 0",
                               "got the string '48 gigs' (line 4)", "hint:"]),
    ("bad_image_reference.yaml", ["image 'PyTorch-CUDA:V2.6 ; rm -rf /': not a valid image reference: it holds "
                                  "characters no reference can hold (' ', ';') (line 5)",
                                  "expected a reference such as pytorch-cuda:v2.6", "hint:"]),
    ("empty_images.yaml", ["empty_images.yaml lists no image to run and no --image was given",
                           "expected: an image under 'images:' not marked run_by_default: false, or --image REF",
                           "observed: no image (the images mapping is empty or missing)",
                           "hint: name an image: --image REPO:TAG, or add one under 'images:'"]),
    ("none_run_by_default.yaml", ["none_run_by_default.yaml lists no image to run and no --image was given",
                                  "observed: 2 image(s), each marked run_by_default: false "
                                  "(example/pytorch:control-a, example/pytorch:control-b)",
                                  "hint: name an image: --image example/pytorch:control-a"]),
]


@pytest.mark.parametrize("name, fragments", BROKEN_FILES, ids=[name for name, _ in BROKEN_FILES])
def test_broken_images_file_stops_the_run_before_any_check(pytester, name, fragments):
    result = run(pytester, "--images-file", str(CONFIGS / name))  # a real run, not --co: it must stop by itself
    output = result.stdout + result.stderr
    assert result.ret == 4, output
    assert str(CONFIGS / name) in output, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    assert "Traceback" not in output
    assert "collected" not in output and not result.outcomes, output  # no check ran, so no container started


def test_a_file_with_no_image_to_run_still_validates_an_image_named_with_image(pytester):
    result = run(pytester, "--images-file", str(CONFIGS / "empty_images.yaml"), "--image", "someone/else:1",
                 "--co", "-q", "-k", "test_pip_check_is_clean")
    assert result.ret == 0, result.stdout + result.stderr
    result.lines.fnmatch_lines(["*test_pip_check_is_clean?someone/else:1?*"])


def command(workdir: Path, *argv, timeout: float = 300) -> tuple[int, str]:
    """A command line run in workdir as a user types it (no --rootdir or test path added,
    unlike run_inner): its exit status and its output."""
    proc = subprocess.run([str(arg) for arg in argv], cwd=workdir, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def launch(launcher: str, elsewhere: Path, *args) -> tuple[int, str]:
    """The suite's checks with args, started the way launcher names."""
    if launcher == "pytest with the tests path, from elsewhere":
        return command(elsewhere, *PYTEST, ROOT / "tests", *args)
    if launcher == "pytest from the project folder":
        return command(ROOT, *PYTEST, *args)
    assert CONSOLE_SCRIPT.exists(), f"no {CONSOLE_SCRIPT}: install the project again (pip install -e .)"
    return command(elsewhere, CONSOLE_SCRIPT, "-p", "no:cacheprovider", *args)


LAUNCHERS = ["pytest with the tests path, from elsewhere", "pytest from the project folder", "imagecheck console script"]


@pytest.mark.parametrize("form", ["--images-file PATH", "--images-file=PATH"])
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_an_images_file_outside_the_project_works_in_both_forms(tmp_path, launcher, form):
    images = tmp_path / "team" / "images.yaml"
    images.parent.mkdir()
    images.write_text((CONFIGS / "valid.yaml").read_text())
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    option = ["--images-file", images] if form == "--images-file PATH" else [f"--images-file={images}"]
    status, output = launch(launcher, elsewhere, *option, "--co", "-q", *TORCH_PROMISES)
    assert status == 0, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(BOTH_IMAGES)
    assert "Traceback" not in output


def test_every_path_option_of_the_suite_works_in_the_space_form_from_the_project_folder(tmp_path):
    """The nightly's case: --signoff-report DIR outside the project, an existing folder."""
    status, output = command(ROOT, *PYTEST, f"--images-file={CONFIGS / 'valid.yaml'}", "--signoff-report", tmp_path,
                             "--co", "-q", *TORCH_PROMISES)
    assert status == 0, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(BOTH_IMAGES)


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_a_missing_images_file_is_a_usage_error_from_any_folder(tmp_path, launcher):
    status, output = launch(launcher, tmp_path, "--images-file", tmp_path / "nowhere.yaml", "--co")
    assert status == 4, output
    assert f"{tmp_path / 'nowhere.yaml'}: cannot read it" in output and "--images-file" in output, output
    assert "Traceback" not in output


def test_the_console_script_reads_the_images_file_of_its_folder(tmp_path):
    (tmp_path / "images.yaml").write_text((CONFIGS / "valid.yaml").read_text())
    status, output = launch("imagecheck console script", tmp_path, "--co", *TORCH_PROMISES)
    assert status == 0, output
    assert f"imagecheck: expectations from {tmp_path / 'images.yaml'}" in output, output
    pytest.LineMatcher(output.splitlines()).fnmatch_lines(["*example/pytorch:1-torch*", "*example/pytorch:2-torch*"])


def test_the_console_script_exits_with_pytests_status(tmp_path):
    status, output = launch("imagecheck console script", tmp_path, "--images-file", CONFIGS / "valid.yaml",
                            "--co", "-q", "-k", "no_check_has_this_name")
    assert status == 5, output  # pytest's "no tests collected"


def test_a_run_elsewhere_that_loads_the_plugin_falls_back_to_the_projects_images_file(pytester):
    pytester.makepyfile(test_plain="def test_nothing():\n    pass\n")
    status, output = command(pytester.path, *PYTEST, "-p", "imagecheck", "test_plain.py")
    assert status == 0, output
    assert f"imagecheck: expectations from {ROOT / 'images.yaml'}" in output, output
