"""images.yaml loading: valid files merge defaults; every broken file is rejected with the
file, the image and the key in the message, the line where YAML knows it (pure logic: no
Docker). Keys written twice, image references the registry grammar refuses and numbers
outside the range a field declares are broken files too."""
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from imagecheck.config import DuplicateKeyLoader, ImageSpec, load
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
    ("duplicate_top_key.yaml", ["duplicate_top_key.yaml: key 'images': written twice (line 2 and line 5)",
                                "expected each key once", "hint: delete the one you do not mean"]),
    ("duplicate_image_key.yaml", ["duplicate_image_key.yaml: image 'example/pytorch:1', key 'torch': written twice "
                                  "(line 4 and line 6)", "observed '2.6.0' then '2.5.0'", "hint:"]),
    ("duplicate_nested_key.yaml", ["duplicate_nested_key.yaml: defaults, key 'timeouts.probe': written twice "
                                   "(line 4 and line 6)", "observed '200' then '20'", "hint:"]),
    ("duplicate_image.yaml", ["duplicate_image.yaml: images: image 'example/pytorch:1' is listed twice "
                              "(line 3 and line 7)", "expected each key once", "hint:"]),
    ("negative_timeout.yaml", ["image 'example/pytorch:1', key 'timeouts.probe': expected an integer > 0 (seconds), "
                               "got the number -5 (line 5)", "hint:", "default (300)"]),
    ("zero_batch_size.yaml", ["zero_batch_size.yaml: defaults, key 'dataloader.batch_size': expected an integer >= 1, "
                              "got the number 0 (line 5)", "hint:"]),
    ("negative_tolerance.yaml", ["key 'compile.atol': expected a number >= 0, got the number -0.1 (line 4)", "hint:"]),
    ("perf_drop_above_one.yaml", ["key 'regression.max_perf_drop': expected a number from 0 to 1, got the number 1.5 "
                                  "(line 4)", "hint: a share of the baseline: 0.2 allows 20 % worse"]),
    ("port_out_of_range.yaml", ["key 'ports.70000': expected a TCP port from 1 to 65535, got the number 70000 (line 6)",
                                "hint:"]),
    ("zero_pids_limit.yaml", ["key 'limits.pids': expected an integer >= 1, got the number 0 (line 4)", "hint:"]),
    ("bad_memory_limit.yaml", ["key 'limits.memory': expected a docker size above 0", "(512m, 8g, 48g)",
                               "got the string '48 gigs' (line 4)", "hint:"]),
    ("bad_image_reference.yaml", ["bad_image_reference.yaml: image 'PyTorch-CUDA:V2.6 ; rm -rf /': not a valid image "
                                  "reference: it holds characters no reference can hold (' ', ';') (line 5)",
                                  "expected a reference such as pytorch-cuda:v2.6", "hint:"]),
])
def test_broken_file_is_rejected_with_file_image_and_key(name, fragments):
    with pytest.raises(ConfigError) as raised:
        load(CONFIGS / name)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


@pytest.mark.parametrize("text, fragments", [
    ("defaults: []\nimages: {}\n", ["defaults: expected a mapping, got a list"]),
    ("images: false\n", ["images: expected a mapping of image reference to its promises", "the boolean False"]),
    ('images: ""\n', ["images: expected a mapping of image reference to its promises"]),
    ("images:\n  example/pytorch:1: 0\n", ["image 'example/pytorch:1': expected a mapping of promises"]),
    ("images:\n  example/pytorch:1: []\n", ["image 'example/pytorch:1': expected a mapping of promises"]),
])
def test_a_section_of_the_wrong_type_is_refused_even_when_it_is_empty(tmp_path, text, fragments):
    path = tmp_path / "images.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load(path)
    for fragment in fragments:
        assert fragment in str(raised.value), str(raised.value)


def test_an_image_listed_with_no_promises_of_its_own_gets_the_defaults(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("defaults:\n  python: '3.11'\nimages:\n  example/pytorch:1:\n")
    assert load(path).images["example/pytorch:1"].python == "3.11"


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it.*--images-file"):
        load(tmp_path / "absent.yaml")


def test_the_loader_is_a_safe_loader_that_refuses_duplicate_keys():
    assert issubclass(DuplicateKeyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError, match="duplicate key 'a'"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=DuplicateKeyLoader)
    assert yaml.load("a: 1\nb: {a: 2}\n", Loader=DuplicateKeyLoader) == {"a": 1, "b": {"a": 2}}


def test_merge_keys_keep_working_and_an_entry_may_override_what_it_merges():
    images = load(CONFIGS / "merge_override.yaml").images
    merged = images["example/pytorch:2"]
    assert (merged.torch, merged.python) == ("2.5.0", "3.11")  # overridden, merged in
    assert (merged.timeouts.probe, merged.timeouts.start) == (100, 60)  # a section written anew replaces the anchor's
    assert images["example/pytorch:1"].torch == "2.6.0"


def test_project_images_yaml_has_no_duplicate_key_though_it_merges_anchors():
    text = (CONFIGS.parent.parent / "images.yaml").read_text()
    assert "<<: *" in text
    load(CONFIGS.parent.parent / "images.yaml")


def test_a_duplicate_inside_an_anchored_entry_is_refused(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  a/b:1: &one\n    torch: '2.6.0'\n    torch: '2.5.0'\n  a/b:2:\n    <<: *one\n")
    with pytest.raises(ConfigError, match=r"image 'a/b:1', key 'torch': written twice \(line 3 and line 4\)"):
        load(path)


@pytest.mark.parametrize("ref, problem", [
    ("PyTorch-CUDA:v2.6", "has upper-case letters"),
    ("pytorch cuda:v2.6", "characters no reference can hold (' ')"),
    ("pytorch-cuda:v2.6;reboot", "characters no reference can hold (';')"),
    ("pytorch-cuda@sha256:abc", "the digest 'sha256:abc' is not ALGORITHM:HEX"),
    ("pytorch-cuda:-v2.6", "the tag '-v2.6'"),
])
def test_an_image_key_the_registry_grammar_refuses_is_rejected(tmp_path, ref, problem):
    path = tmp_path / "images.yaml"
    path.write_text(f"images:\n  example/ok:1: {{}}\n  {ref!r}:\n    torch: '2.6.0'\n")
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert f"images.yaml: image {ref!r}: not a valid image reference: " in message, message
    assert problem in message and "(line 3)" in message and "hint:" in message, message


def _declared(cls=ImageSpec, prefix=""):
    """(dotted key, field) for every field below cls that declares bounds, key_bounds or a pattern."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        inner = [a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]]
        if dataclasses.is_dataclass(inner[0]):
            yield from _declared(inner[0], f"{prefix}{f.name}.")
        elif {"bounds", "key_bounds", "pattern"} & set(f.metadata):
            yield f"{prefix}{f.name}", f, inner[0]


def _entry(key, value):
    """An image's entry that sets the dotted key ('a.b': {'a': {'b': value}}), with the user's
    required name."""
    for part in reversed(key.split(".")):
        value = {part: value}
    if "user" in value:
        value["user"].setdefault("name", "aiuser")
    return value


def _cases():
    """Per declared field: values just inside its range (accepted) and just outside (refused)."""
    for key, f, kind in _declared():
        if "bounds" in f.metadata:
            bounds, step = f.metadata["bounds"], 1 if kind is int else 0.5
            inside, outside = [], []
            if bounds.low is not None:
                inside.append(bounds.low + step if bounds.low_open else bounds.low)
                outside.append(bounds.low if bounds.low_open else bounds.low - step)
            if bounds.high is not None:
                inside.append(bounds.high)
                outside.append(bounds.high + step)
            yield key, inside, outside, bounds.describe()
        elif "key_bounds" in f.metadata:
            bounds = f.metadata["key_bounds"]
            yield key, [{bounds.low: "ssh"}, {bounds.high: "http"}], [{bounds.low - 1: "ssh"}, {bounds.high + 1: "http"}], \
                bounds.describe()
        else:
            samples = {"limits.memory": "512m", "run_options.shm_size": "8g", "run_options.ipc": "host",
                       "gpu.compute_capability_min": "8.0"}
            yield key, [samples[key]], ["lots", "-1"], f.metadata["pattern"].expected


RANGE_CASES = list(_cases())


@pytest.mark.parametrize("key, inside, outside, allowed", RANGE_CASES, ids=[case[0] for case in RANGE_CASES])
def test_every_declared_range_is_checked_at_load(tmp_path, key, inside, outside, allowed):
    path = tmp_path / "images.yaml"
    for value in inside:
        path.write_text(yaml.safe_dump({"images": {"example/pytorch:1": _entry(key, value)}}))
        load(path)
    for value in outside:
        path.write_text(yaml.safe_dump({"images": {"example/pytorch:1": _entry(key, value)}}))
        with pytest.raises(ConfigError) as raised:
            load(path)
        message = str(raised.value)
        assert f"image 'example/pytorch:1', key '{key}" in message and allowed in message, message
        assert "(line " in message and "hint:" in message, message


def test_the_ranges_cover_every_timeout_count_and_size_that_needs_one():
    declared = {key for key, _, _ in _declared()}
    needed = {"timeouts.start", "timeouts.command", "timeouts.probe", "timeouts.compile", "timeouts.dataloader",
              "timeouts.ddp", "timeouts.service_ready", "compile.batch_size", "compile.steady_iterations",
              "compile.atol", "compile.rtol", "dataloader.num_workers", "dataloader.batch_size", "dataloader.batches",
              "dataloader.sample_mib", "ddp.steps", "ddp.batch_size", "ddp.image_size", "ddp.cpu_processes",
              "ddp.bandwidth_bytes", "ddp.cpu_bandwidth_bytes", "ddp.min_bus_bandwidth_gbps", "gpu.min_gpus",
              "limits.pids", "limits.memory", "regression.max_perf_drop", "ports", "user.uid", "onnx.opset",
              "run_options.shm_size"}
    assert needed <= declared, f"no declared range for {sorted(needed - declared)}"


def test_a_range_check_never_replaces_the_type_check(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  example/pytorch:1:\n    timeouts: {probe: soon}\n")
    with pytest.raises(ConfigError, match=r"key 'timeouts.probe': expected an integer, got the string 'soon' \(line 3\)"):
        load(path)


@pytest.mark.parametrize("name", ["empty_images.yaml", "none_run_by_default.yaml"])
def test_a_file_with_no_image_to_run_loads_and_runs_nothing_by_default(name):
    assert load(CONFIGS / name).default_refs() == []  # the run refuses it (test_command_line.py)
