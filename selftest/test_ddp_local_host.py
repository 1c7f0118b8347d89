"""LocalHost, the probe target outside any container (the host's own all_reduce figure):
probes install and run with the host's python; a command past its limit is killed with
every process below it, also those in sessions of their own (as torchrun's workers are)."""
import subprocess
import sys
import time

import pytest

from imagecheck.image import probes
from imagecheck.errors import CommandTimeout
from imagecheck.runtime.local import LocalHost, descendants, kill_tree


def test_probes_install_and_run_on_the_host():
    with LocalHost(sys.executable) as host:
        folder = str(host.scratch / "probes")
        probes.install(host, folder)
        port = probes.run(host, "ddp_free_port", timeout=30, directory=folder, python=host.python).data["port"]
        assert 0 < port < 65536
        empty = probes.run(host, "ddp_results", [str(host.scratch / "none")], timeout=30, directory=folder,
                           python=host.python).data
        assert empty["exists"] is False and empty["ranks"] == {}
        scratch = host.scratch
    assert not scratch.exists(), "the scratch folder outlived the with-block"


def test_command_past_its_limit_is_killed_with_its_whole_tree(tmp_path):
    pids = tmp_path / "pids"
    # a child in a session of its own, and a grandchild: both must die with the parent
    script = (f"setsid sh -c 'echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; wait' & "
              f"echo $$ >> {pids}; echo started; sleep 300")
    with LocalHost() as host:
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as caught:
            host.exec(["sh", "-c", script], timeout=3)
    assert time.monotonic() - started < 30
    assert "ran past its 3 s limit and was killed" in str(caught.value) and "started" in str(caught.value)
    listed = [int(p) for p in pids.read_text().split()]
    assert len(listed) == 3
    time.sleep(0.5)
    alive = [p for p in listed if _alive(p)]
    assert not alive, f"processes {alive} outlived the time-out"


def test_exec_returns_output_exit_code_and_environment():
    with LocalHost() as host:
        result = host.exec(["sh", "-c", 'echo "$IMAGECHECK_X"; echo err >&2; exit 3'], timeout=30,
                           environment={"IMAGECHECK_X": "seen"})
    assert (result.exit_code, result.stdout.strip(), result.stderr.strip()) == (3, "seen", "err")


def test_descendants_lists_the_tree_parents_first():
    # a shell whose child shell runs a sleep: parent, child, grandchild, each printing its child's pid
    script = "sh -c 'sleep 30 & echo grandchild $!; wait' & echo child $!; wait"
    parent = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = dict(parent.stdout.readline().split() for _ in range(2))
        child, grandchild = int(pids["child"]), int(pids["grandchild"])
        deadline = time.monotonic() + 10
        while len(descendants(parent.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert descendants(parent.pid) == [parent.pid, child, grandchild]
        assert descendants(grandchild) == [grandchild]
    finally:
        kill_tree(parent.pid)
        parent.wait(10)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False
