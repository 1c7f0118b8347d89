"""The suite's command line: options, parametrization by image, and every usage error
(exit code 4 with a message that says what was wrong; never a traceback)."""
from pathlib import Path

from helpers import REFERENCE, ROOT, run_inner

CONFIGS = ROOT / "fixtures" / "configs"


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
