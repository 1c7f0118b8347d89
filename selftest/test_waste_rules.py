"""The wasted-space rules on hand-made layers (no Docker): what a later layer makes dead
(re-permissioned, overwritten, deleted by a whiteout or an opaque folder), the package
managers' caches left in the final filesystem, the messages (layer, step, biggest paths,
fix, budget), and the two readers of a layer (its folder, as the layer_files probe reads
it, and its tar, as the `docker save` route reads it) agreeing on the same layer."""
from __future__ import annotations

import io
import os
import sys
import tarfile

import pytest

from helpers import ROOT
from imagecheck.rules import waste
from imagecheck.rules.waste import Entry, LayerFiles
from imagecheck.runtime import layer_store

sys.path.insert(0, str(ROOT / "fixtures" / "probes"))
import layer_files as probe  # noqa: E402  (the probe runs in the image; its reading is pure)


def layer(index: int, step: str, files: dict[str, tuple], whiteouts=(), opaque=()) -> LayerFiles:
    return LayerFiles.from_rows(index, step, [[path, *row] for path, row in files.items()], whiteouts, opaque)


BASE = layer(0, "RUN pip install torch", {
    "opt/venv": ("d", 0, 0o755, 0, 0, 1), "opt/venv/torch": ("d", 0, 0o755, 0, 0, 1),
    "opt/venv/torch/lib.so": ("f", 900, 0o644, 0, 0, 100), "opt/venv/torch/small.py": ("f", 10, 0o644, 0, 0, 100),
    "opt/venv/numpy.so": ("f", 300, 0o644, 0, 0, 100), "etc/passwd": ("f", 50, 0o644, 0, 0, 100),
    "opt/venv/link": ("l", 0, 0o777, 0, 0, 100)})


def test_a_recursive_chmod_or_chown_makes_the_lower_copies_dead():
    chmod = layer(1, "RUN chmod -R a+rX /opt/venv", {
        "opt/venv/torch/lib.so": ("f", 900, 0o644, 0, 0, 100),   # same mode: copied all the same
        "opt/venv/numpy.so": ("f", 300, 0o600, 1000, 1000, 100),  # re-owned
        "opt/venv/link": ("l", 0, 0o777, 0, 0, 100)})             # a link carries no bytes
    (finding,) = waste.scan([BASE, chmod]).dead
    assert (finding.reason, finding.layer, finding.source_layer, finding.bytes, finding.files) == (
        waste.REPERMISSIONED, 1, 0, 1200, 2)
    assert finding.biggest == (("opt/venv/torch/lib.so", 900), ("opt/venv/numpy.so", 300))
    assert finding.under == "opt/venv"
    assert finding.describe() == ("layer 2 (`RUN chmod -R a+rX /opt/venv`) re-permissioned 1.2 kB in 2 file(s) that "
                                  "layer 1 (`RUN pip install torch`) wrote, under /opt/venv: torch/lib.so (900 B), "
                                  "numpy.so (300 B)")


def test_a_file_written_again_otherwise_is_overwritten():
    useradd = layer(1, "RUN useradd aiuser", {"etc/passwd": ("f", 90, 0o644, 0, 0, 200)})
    (finding,) = waste.scan([BASE, useradd]).dead
    assert (finding.reason, finding.bytes, finding.biggest) == (waste.OVERWRITTEN, 50, (("etc/passwd", 50),))


def test_a_whiteout_deletes_a_file_or_a_whole_folder():
    delete = layer(1, "RUN pip uninstall -y torch", {}, whiteouts=["opt/venv/torch", "etc/passwd", "not/there"])
    (finding,) = waste.scan([BASE, delete]).dead
    assert (finding.reason, finding.bytes, finding.files) == (waste.DELETED, 960, 3)
    assert finding.biggest[0] == ("opt/venv/torch/lib.so", 900)


def test_an_opaque_folder_hides_what_the_layers_below_put_in_it():
    redo = layer(1, "RUN rm -rf /opt/venv && python3 -m venv /opt/venv", {
        "opt/venv": ("d", 0, 0o755, 0, 0, 2), "opt/venv/new.py": ("f", 5, 0o644, 0, 0, 2)}, opaque=["opt/venv"])
    found = waste.scan([BASE, redo])
    (finding,) = found.dead
    assert (finding.reason, finding.bytes) == (waste.DELETED, 1210)
    assert found.files == len(BASE.files) + 2


def test_a_folder_replaced_by_a_file_takes_its_content_with_it():
    replace = layer(1, "RUN rm -r /opt/venv/torch && touch /opt/venv/torch", {
        "opt/venv/torch": ("f", 0, 0o644, 0, 0, 3)})
    (finding,) = waste.scan([BASE, replace]).dead
    assert (finding.reason, finding.bytes, finding.files) == (waste.DELETED, 910, 2)


def test_bytes_only_die_in_a_later_layer():
    assert waste.scan([BASE]).dead == []
    again = layer(1, "COPY . /", {"new/file": ("f", 10, 0o644, 0, 0, 1)})
    assert waste.scan([BASE, again]).dead == []


@pytest.mark.parametrize("path, kind", [
    ("root/.cache/pip/http/a/b", waste.PIP), ("home/aiuser/.cache/pip/wheels/x.whl", waste.PIP),
    ("var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", waste.APT_LISTS),
    ("var/cache/apt/archives/gcc_12.deb", waste.APT_ARCHIVES), ("var/cache/apt/pkgcache.bin", waste.APT_ARCHIVES),
    ("opt/conda/pkgs/torch-2.6.0.conda", waste.CONDA), ("root/.conda/pkgs/x.tar.bz2", waste.CONDA),
    ("opt/other/pkgs/not-conda.tar", None), ("opt/venv/lib/python3.11/site-packages/pip/cache.py", None),
    ("root/.cache/torch/hub/x", None)])
def test_package_manager_caches_are_told_apart(path, kind):
    present = {"opt/conda/conda-meta": 1}
    assert waste.cache_kind(path, present) == kind


def test_caches_are_counted_where_the_final_filesystem_still_holds_them():
    apt = layer(1, "RUN apt-get update && apt-get install -y gcc", {
        "var/lib/apt/lists/big_Packages": ("f", 4000, 0o644, 0, 0, 1), "var/lib/apt/lists/lock": ("f", 0, 0o640, 0, 0, 1),
        "var/cache/apt/archives/gcc.deb": ("f", 2000, 0o644, 0, 0, 1), "root/.cache/pip/http/x": ("f", 700, 0o600, 0, 0, 1)})
    cleaned = layer(2, "RUN rm -rf /root/.cache/pip", {}, whiteouts=["root/.cache/pip"])
    found = waste.scan([BASE, apt, cleaned])
    assert [(f.reason, f.layer, f.bytes) for f in found.caches] == [(waste.APT_LISTS, 1, 4000),
                                                                     (waste.APT_ARCHIVES, 1, 2000)]
    assert [(f.reason, f.bytes) for f in found.dead] == [(waste.DELETED, 700)]  # removed later: dead, not a cache
    assert found.caches[0].describe().startswith("layer 2 (`RUN apt-get update && apt-get install -y gcc`) left "
                                                 "4.0 kB of apt lists in 1 file(s)")


def test_the_message_says_expected_observed_where_and_the_fix():
    chmod = layer(1, "RUN chmod -R a+rX /opt/venv", {"opt/venv/torch/lib.so": ("f", 900, 0o644, 0, 0, 100)})
    delete = layer(2, "RUN rm /etc/passwd", {}, whiteouts=["etc/passwd"])
    dead = waste.scan([BASE, chmod, delete]).dead
    assert waste.problem("img:1", dead, 0.00095, "max_waste_mb", "dead bytes") is None  # within the budget
    message = waste.problem("img:1", dead, 0.0001, "max_waste_mb", "dead bytes")
    lines = message.splitlines()
    assert lines[0] == "img:1 carries 950 B of dead bytes, more than images.yaml allows"
    assert lines[1] == "  expected: at most 100 B (images.yaml size.max_waste_mb: 0.0001)"
    assert lines[2] == "  observed: 950 B in 2 file(s):"
    assert lines[3].startswith("    - layer 2 (`RUN chmod -R a+rX /opt/venv`) re-permissioned 900 B")
    assert lines[4].startswith("    - layer 3 (`RUN rm /etc/passwd`) deleted 50 B in 1 file(s) that layer 1")
    assert lines[5] == "  where: layer 2 (`RUN chmod -R a+rX /opt/venv`) and 1 more finding(s) above"
    assert lines[6] == "  hint: " + waste.HINTS[waste.REPERMISSIONED]  # 50 B of 950: not worth a fix of its own
    torch_gone = layer(3, "RUN rm -r /opt/venv/torch", {}, whiteouts=["opt/venv/torch"])
    both = waste.scan([BASE, chmod, torch_gone]).dead  # 900 B re-permissioned, then the copy deleted: 910 B
    hint = waste.problem("img:1", both, 0.0001, "max_waste_mb", "dead bytes").splitlines()[-1]
    assert hint == "  hint: " + waste.HINTS[waste.REPERMISSIONED] + "; " + waste.HINTS[waste.DELETED]


# ---- the two readers of a layer ---------------------------------------------------------------
def make_layer_folder(root) -> None:
    (root / "opt" / "venv").mkdir(parents=True)
    (root / "opt" / "venv" / "lib.so").write_bytes(b"x" * 1000)
    os.link(root / "opt" / "venv" / "lib.so", root / "opt" / "venv" / "lib-again.so")
    (root / "opt" / "venv" / "link").symlink_to("lib.so")
    (root / "etc").mkdir()
    (root / "etc" / ".wh.passwd").write_bytes(b"")          # the tar's spelling of a deletion
    (root / "var").mkdir()
    (root / "var" / ".wh..wh..opq").write_bytes(b"")        # an opaque folder
    (root / "var" / "new").write_bytes(b"y" * 10)
    os.chmod(root / "var" / "new", 0o600)


def tar_of(root) -> io.BytesIO:
    """The folder as a layer's tar (what `docker save` sends), hard link included."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for folder, names, files in sorted(os.walk(root)):
            names.sort()
            for name in sorted(names) + sorted(files):
                path = os.path.join(folder, name)
                tar.add(path, arcname=os.path.relpath(path, root), recursive=False)
    data.seek(0)
    return data


def normal(rows) -> list:
    """Rows with a hard link's two names in a fixed order (each reader meets them in its own)."""
    by_path = {row[0]: row for row in rows}
    pair = sorted(p for p in by_path if p.startswith("opt/venv/lib"))
    first, second = by_path[pair[0]], by_path[pair[1]]
    if first[1] == "h":
        by_path[pair[0]], by_path[pair[1]] = [pair[0], *second[1:]], [pair[1], *first[1:]]
    return sorted(by_path.values())


def test_the_folder_reader_and_the_tar_reader_see_the_same_layer(tmp_path):
    make_layer_folder(tmp_path)
    unreadable: set = set()
    from_folder = probe.read_layer(str(tmp_path), unreadable)
    from_tar = layer_store._layer_from_tar(tar_of(tmp_path))
    assert unreadable == set()
    assert normal(from_folder["rows"]) == normal(from_tar.rows)
    assert sorted(from_folder["whiteouts"]) == sorted(from_tar.whiteouts) == ["etc/passwd"]
    assert from_folder["opaque"] == from_tar.opaque == ["var"]
    kinds = {row[0]: (row[1], row[2]) for row in normal(from_tar.rows)}
    assert kinds["opt/venv/link"] == ("l", 0) and kinds["var/new"] == ("f", 10)
    assert sorted([kinds["opt/venv/lib.so"], kinds["opt/venv/lib-again.so"]]) == [("f", 1000), ("h", 0)]


def test_layer_folders_come_bottom_first_and_only_when_they_are_all_there():
    attrs = {"GraphDriver": {"Name": "overlay2", "Data": {"LowerDir": "/l/2/diff:/l/1/diff:/l/0/diff",
                                                          "UpperDir": "/l/3/diff"}},
             "RootFS": {"Layers": ["a", "b", "c", "d"]}}
    assert layer_store.layer_folders(attrs) == ["/l/0/diff", "/l/1/diff", "/l/2/diff", "/l/3/diff"]
    assert layer_store.layer_folders({**attrs, "RootFS": {"Layers": ["a"]}}) is None
    assert layer_store.layer_folders({**attrs, "GraphDriver": {"Name": "vfs", "Data": {}}}) is None
    single = {"GraphDriver": {"Name": "fuse-overlayfs", "Data": {"UpperDir": "/l/0/diff"}}, "RootFS": {"Layers": ["a"]}}
    assert layer_store.layer_folders(single) == ["/l/0/diff"]


def test_entries_compare_by_their_fields():
    assert Entry("f", 1, 2, 3, 4, 5) == LayerFiles.from_rows(0, "", [["./a/", "f", 1, 2, 3, 4, 5]]).files["a"]
