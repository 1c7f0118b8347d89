"""images.yaml loading: valid files merge defaults; every broken file is rejected with the
file, the image and the key in the message (pure logic: no Docker)."""
from pathlib import Path

import pytest

from imagecheck.config import load
from imagecheck.errors import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "fixtures" / "configs"


def test_valid_file_merges_defaults_under_each_image():
    catalog = load(CONFIGS / "valid.yaml")
    first = catalog.images["example/pytorch:1"]
    assert first.torch == "2.6.0" and first.python == "3.11"
    assert first.user.uid == 1000 and first.user.groups == ["video"]
    assert first.ports == {22: "ssh", 8888: "jupyter"}
    assert first.timeouts.probe == 200 and first.timeouts.start == 60  # defaults block, then built-in
    assert (first.compile.atol, first.compile.rtol, first.compile.cpu_models) == (0.1, 0.2, ["resnet18"])
    assert catalog.images["example/pytorch:2"].compile.atol == 0.1


def test_an_image_may_complete_a_section_the_defaults_start():
    user = load(CONFIGS / "partial_nested_override.yaml").images["example/pytorch:1"].user
    assert (user.name, user.uid, user.groups) == ("aiuser", 1000, ["video"])


def test_unlisted_image_gets_the_defaults():
    catalog = load(CONFIGS / "valid.yaml")
    spec, listed = catalog.spec_for("someone/else:latest")
    assert not listed and spec.timeouts.probe == 200 and spec.torch is None


def test_project_images_yaml_is_valid():
    catalog = load(Path(__file__).resolve().parent.parent / "images.yaml")
    assert "pytorch-cuda:v2.6" in catalog.images


@pytest.mark.parametrize("name, fragments", [
    ("not_yaml.yaml", ["not_yaml.yaml", "line", "not valid YAML"]),
    ("unknown_top_key.yaml", ["unknown_top_key.yaml", "'image'", "unknown key", "did you mean 'images'"]),
    ("unknown_image_key.yaml", ["image 'example/pytorch:1'", "'torch_version'", "unknown key", "did you mean 'torch'"]),
    ("unknown_nested_key.yaml", ["image 'example/pytorch:1'", "'compile.atoll'", "did you mean 'atol'"]),
    ("wrong_type.yaml", ["image 'example/pytorch:1'", "'user.uid'", "expected an integer", "'one thousand'"]),
    ("version_as_number.yaml", ["'python'", "expected a string", "the number 3.1", "quote it"]),
    ("bad_defaults.yaml", ["defaults", "'extra_modules'", "expected a list of strings", "'numpy'"]),
    ("images_not_mapping.yaml", ["images:", "expected a mapping", "got a list"]),
    ("missing_required_key.yaml", ["image 'example/pytorch:1'", "'user.uid'", "missing"]),
    ("bad_severity.yaml", ["image 'example/pytorch:1'", "'security.cve.max_severity'",
                           "expected one of UNKNOWN, NEGLIGIBLE, LOW, MEDIUM, HIGH, CRITICAL", "'SEVERE'"]),
])
def test_broken_file_is_rejected_with_file_image_and_key(name, fragments):
    with pytest.raises(ConfigError) as raised:
        load(CONFIGS / name)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it.*--images-file"):
        load(tmp_path / "absent.yaml")
