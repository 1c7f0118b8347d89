"""The fixture image builder's plan (pure logic, no Docker): every recipe found with its tag
and parent, parents built first, wheels downloaded in batches pip accepts."""
import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "fixtures" / "images"))
import build  # noqa: E402


def test_every_dockerfile_is_a_recipe_with_its_parent():
    recipes = build.discover()
    assert recipes["pytorch-cuda:v2.6"].parent == build.BASE_TAG
    assert recipes["pytorch-cuda:v2.6-seedrecipe"].parent == build.BASE_TAG
    defects = [r for r in recipes.values() if "defects" in r.folder.parts]
    assert defects and all(r.parent == "pytorch-cuda:v2.6" for r in defects)


def test_parents_are_built_before_their_children():
    order = [r.tag for r in build.build_order(build.discover(), ["pytorch-cuda:v2.6-root-user"])]
    assert order == [build.BASE_TAG, "pytorch-cuda:v2.6", "pytorch-cuda:v2.6-root-user"]


def test_only_the_images_that_install_wheels_need_the_wheel_cache():
    recipes = build.discover()
    assert {t for t, r in recipes.items() if r.uses_wheels} == {
        "pytorch-cuda:v2.6", "pytorch-cuda:v2.6-seedrecipe",
        "pytorch-cuda:v2.6-package-changes"}  # the package-diff candidate installs two wheels of the cache


def test_a_download_batch_never_holds_two_versions_of_one_package():
    wheels = ["torch-2.6.0-cp311-cp311-manylinux1_x86_64.whl", "torch-2.2.0-cp311-cp311-manylinux1_x86_64.whl",
              "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"]
    assert build.download_batches(wheels) == [["torch==2.6.0", "numpy==2.4.6"], ["torch==2.2.0"]]
    locked = [name for name, _ in build.locked_wheels()]
    for batch in build.download_batches(locked):
        names = [spec.split("==")[0].lower() for spec in batch]
        assert len(names) == len(set(names))
    assert sum(len(b) for b in build.download_batches(locked)) == len(locked)
