"""pytest hooks: options, images file, image parametrization, header, scheduling, cleanup.

Flow of a run: options are validated and images.yaml is loaded in pytest_configure (a
usage error, exit 4, on bad input); every test that asks for `image` is parametrized
over the images under test with a session-scoped indirect fixture (fixtures.py), so tests
group by image and one container serves all of an image's tests; containers are removed
when an image's tests are done, at session end, on Ctrl-C and on SIGTERM; leftovers of
crashed runs are swept before the first container starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from .. import config as config_module
from ..errors import ConfigError, ImagecheckError, explain
from ..image.companions import FACT_COMPANIONS
from ..image.run_context import RunContext
from ..image.under_test import ImageUnderTest
from ..rules import image_reference
from ..runtime import container as container_runtime
from ..runtime import engine
from ..runtime import gpu as gpu_runtime
from ..runtime import registry, syft
from ..runtime.lifecycle import RunIdentity, new_run_id
from ..signoff import plugin as signoff_plugin
from . import progress as progress_module
from .items import IMAGE_PARAM, image_ref
from .order import tier
from .outcomes import fail
from .state import STATE, ImagecheckState
from .xdist import RUN_ID_KEY, controller_run_id, worker_count, worker_id

MARKERS = (
    "gpu: needs GPU access to the container (skipped without one, failed under --require-gpu)",
    "services: starts the image with its own entrypoint and CMD",
    "slow: takes more than a few seconds per image",
    "facts: reads only the facts gathered once per image (no container or work of its own)",
    "filesystem_walk: reads the root filesystem walk, which then runs beside the facts probe",
    "derived_image: reads the derived image, which is then built beside the facts probe",
    "arbitrary_uid: reads the run under an arbitrary uid, which then runs beside the facts probe",
    "sbom: reads the image's SBOM, which syft then makes beside the facts probe",
    "dataloader: reads the DataLoader runs, which then begin beside the facts probe",
    "compiles: reads torch.compile of the image's models, which then begins beside the facts probe",
    "onnx: reads the ONNX export of the image's model, which then begins beside the facts probe",
    "measures: takes a figure that needs the machine quiet; runs after the image's other checks",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imagecheck", "imagecheck: validate PyTorch + CUDA container images")
    group.addoption("--image", action="append", default=[], metavar="REF",
                    help="Image to validate (repeatable); default: every image in images.yaml that "
                         "is not marked run_by_default: false")
    group.addoption("--images-file", default=None, metavar="PATH",
                    help="The images and their promises (default: images.yaml in the root folder, else "
                         "the one beside the imagecheck package)")
    group.addoption("--gpu-mode", default="auto", metavar="MODE",
                    help="GPU access for containers: auto, toolkit (--gpus via the NVIDIA Container "
                         "Toolkit), devices (device nodes and the driver folder), none (default: auto)")
    group.addoption("--gpus", default="all", metavar="WHICH",
                    help="GPUs granted to each container: all, a count (2) or indices (0,1) (default: all)")
    group.addoption("--gpu-driver-dir", default=gpu_runtime.DEFAULT_DRIVER_DIR, metavar="PATH",
                    help="Host folder with the NVIDIA driver's user-space libraries, mounted read-only "
                         "in devices mode (default: /usr/local/nvidia)")
    group.addoption("--pull", default=registry.DEFAULT_PULL_POLICY, metavar="POLICY",
                    help="When to pull an image from its registry: never, missing (only what the engine lacks), "
                         f"always (default: {registry.DEFAULT_PULL_POLICY}); the docker CLI's credentials are used")
    group.addoption("--require-gpu", action="store_true", default=False,
                    help="Release sign-off: a GPU check that cannot run fails instead of skipping")
    signoff_plugin.add_options(group)
    OPTIONS_WITH_VALUES[:] = [name for option in group.options if _takes_a_value(option.attrs())
                              for name in option.names() if name.startswith("--")]


def _takes_a_value(attrs: dict[str, Any]) -> bool:
    """Whether an option takes a value (pytest 9 gives the argparse action's fields, earlier
    versions the keywords given to addoption)."""
    return attrs.get("nargs") != 0 and attrs.get("action") not in ("store_true", "store_false", "count")


# The long options of the imagecheck group that take a value (--images-file, --baseline...),
# as pytest_addoption registered them.
OPTIONS_WITH_VALUES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    again = _with_path_values_joined(config)
    if again:
        _run_again(config, again)
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    mode = config.getoption("--gpu-mode")
    if mode not in gpu_runtime.MODES:
        raise pytest.UsageError(f"--gpu-mode {mode!r}: expected one of {', '.join(gpu_runtime.MODES)}")
    try:
        gpu_runtime.parse_gpus(config.getoption("--gpus"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    pull = config.getoption("--pull")
    if pull not in registry.PULL_POLICIES:
        raise pytest.UsageError(f"--pull {pull!r}: expected one of {', '.join(registry.PULL_POLICIES)}")
    for ref in config.getoption("--image"):
        problem = image_reference.problem(ref)
        if problem:
            raise pytest.UsageError(f"--image {ref!r}: expected an image reference such as pytorch-cuda:v2.6, "
                                    f"registry.example.com:5000/team/pytorch-cuda:v2.6 or REPO@sha256:DIGEST; {problem}")
    path = Path(config.getoption("--images-file") or config_module.default_images_file(config.rootpath))
    try:
        catalog = config_module.load(path)
    except ConfigError as error:
        raise pytest.UsageError(f"images.yaml is not valid:\n  {error}") from None
    refs = list(dict.fromkeys(config.getoption("--image"))) or catalog.default_refs()
    if not refs:
        raise pytest.UsageError(_nothing_to_run(catalog))
    context = RunContext(
        identity=RunIdentity(controller_run_id(config) or new_run_id()),
        client_factory=engine.connect,
        gpu_factory=lambda client: gpu_runtime.worker_share(
            gpu_runtime.choose(mode, config.getoption("--gpus"), config.getoption("--gpu-driver-dir"), client),
            worker_id(config), worker_count(config)),
        pull_policy=pull,
        say=lambda ref, message: progress_module.Progress(config, ref)(message))
    state = ImagecheckState(catalog, refs, context, config.getoption("--require-gpu"))
    config.stash[STATE] = state
    state.sigterm.install()
    progress_module.install(config)
    signoff_plugin.configure(config, state)


def _with_path_values_joined(config: pytest.Config) -> list[str] | None:
    """The command line with `--images-file PATH` (and every imagecheck option whose value
    is an existing path: --baseline FILE, --signoff-report DIR...) written `--images-file=PATH`,
    when pytest took PATH for a test path while it chose its root folder and configuration
    file (it does that before any plugin adds its options); None when that cannot have
    happened: no such option, --rootdir or -c given, or --help and --version."""
    if config.getoption("rootdir") or config.getoption("inifilename") or config.getoption("help") \
            or config.getoption("version"):
        return None
    args = [str(arg) for arg in config.invocation_params.args]
    joined, index, changed = [], 0, False
    while index < len(args):
        if args[index] in OPTIONS_WITH_VALUES and index + 1 < len(args) and Path(args[index + 1]).exists():
            joined.append(f"{args[index]}={args[index + 1]}")
            index, changed = index + 2, True
        else:
            joined.append(args[index])
            index += 1
    return joined if changed else None


def _run_again(config: pytest.Config, args: list[str]) -> None:
    """Run the session again with args in this process and end this one with its exit status."""
    status = pytest.main(args, plugins=list(config.invocation_params.plugins or ()))
    given = " ".join(arg for arg in args if arg.split("=", 1)[0] in OPTIONS_WITH_VALUES and "=" in arg)
    pytest.exit(f"imagecheck: the run above is the session started again with {given}: pytest had taken the "
                "path after the option for a test path when it chose its root folder", returncode=int(status))


def _nothing_to_run(catalog: config_module.Catalog) -> str:
    """The usage error of a run with no --image whose images file lists no image to run by default."""
    listed = list(catalog.images)
    observed = (f"{len(listed)} image(s), each marked run_by_default: false ({', '.join(listed[:5])}"
                f"{', ...' if len(listed) > 5 else ''})" if listed else "no image (the images mapping is empty or missing)")
    return explain(f"{catalog.path} lists no image to run and no --image was given: nothing to validate",
                   expected="an image under 'images:' not marked run_by_default: false, or --image REF",
                   observed=observed, where=str(catalog.path),
                   hint=f"name an image: --image {listed[0] if listed else 'REPO:TAG'}, or add one under 'images:'")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker labels its containers with the controller's run id."""
    node.workerinput[RUN_ID_KEY] = node.config.stash[STATE].context.identity.run_id


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    for image in state.images.values():
        try:
            image.close()
        except Exception as error:  # noqa: BLE001 - at the very end: say it, never an internal error
            config.get_terminal_writer().line(f"imagecheck: could not remove every container of {image.ref}: "
                                              f"{str(error).splitlines()[0]} (the next run's sweep removes them)")
    syft.stop_all()
    container_runtime.end_of_run()
    state.sigterm.uninstall()
    signoff_plugin.unconfigure(config)
    progress_module.uninstall(config)


@pytest.hookimpl(tryfirst=True)  # trylast would never run: pytest's own impl returns first
def pytest_cmdline_main(config: pytest.Config) -> None:
    """With -n, spread images over workers one image per worker: `loadgroup` selects the
    image-scoped scheduler below (pytest_plugin/scheduling.py)."""
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") in ("no", "load"):
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist: each image's checks on one worker (see scheduling.py for why)."""
    if config.option.dist != "loadgroup":
        return None
    from .scheduling import ImageScheduling

    return ImageScheduling(config, log, config.stash[STATE].refs)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    lines = [f"imagecheck: expectations from {state.catalog.path}"]
    for ref in state.refs:
        listed = ref in state.catalog.images
        lines.append(f"  image {ref}" + ("" if listed else ": not in images.yaml, runs with the defaults"))
    others = [ref for ref in state.catalog.images if ref not in state.refs]
    if others and not config.getoption("--image"):
        lines.append(f"  ({len(others)} more listed image(s) run only when named with --image: "
                     "run_by_default is false for negative controls and host-only images)")
    try:
        client = state.context.client
        version = client.version()
        lines.append(f"  Docker engine {version.get('Version')} (API {version.get('ApiVersion')})")
    except ImagecheckError as error:
        lines.append(f"  Docker engine: unreachable ({str(error).splitlines()[0]})")
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:  # answered, then stopped
        lines.append(f"  Docker engine: not answering ({type(error).__name__}: {str(error)[:200]})")
    gpu = state.context.gpu
    lines.append("  " + gpu.describe())
    if gpu.mode == "none" and gpu.host_gpus:
        lines.append("  host GPUs (not granted): " + ", ".join(f"{g.index}: {g.name}" for g in gpu.host_gpus))
    if state.require_gpu:
        lines.append("  mode: release sign-off (--require-gpu): a GPU check that cannot run fails")
    else:
        lines.append("  mode: development: GPU checks skip without GPUs (--require-gpu for a release sign-off)")
    return lines


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each image's checks in the order of pytest_plugin/order.py (the fact checks first, while
    its background work runs; those that measure a figure last); images in --image order."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    order = {ref: index for index, ref in enumerate(state.refs)}
    position = {id(item): index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int, int]:
        return (order.get(image_ref(item), -1), tier(mark.name for mark in item.iter_markers()), position[id(item)])

    items.sort(key=key)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tell each image which fact companions its selected checks need and whether one reads
    the facts, so that image.begin() starts those (and only those) as its first check begins."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    for item in session.items:
        ref = image_ref(item)
        if ref is not None:
            wanted = {marker for marker in FACT_COMPANIONS if item.get_closest_marker(marker)}
            state.image(ref).companions |= wanted
            state.image(ref).reads_facts |= item.get_closest_marker("facts") is not None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if IMAGE_PARAM in metafunc.fixturenames:
        refs = metafunc.config.stash[STATE].refs
        metafunc.parametrize(IMAGE_PARAM, refs, indirect=True, scope="session", ids=refs)


def _message_alone():
    """Run a test phase; an ImagecheckError that escapes it fails it with its message alone:
    the message already says what, expected and observed, where, and a hint; a traceback
    adds noise."""
    try:
        return (yield)
    except ImagecheckError as error:
        fail(str(error))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """A fixture's ImagecheckError (pytest caches it and raises it again for each check that
    uses the fixture: each time through here)."""
    return (yield from _message_alone())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A check's ImagecheckError."""
    return (yield from _message_alone())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """A teardown's ImagecheckError (a container that could not be removed, an engine gone)."""
    return (yield from _message_alone())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the image's container logs to every failing check."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        image = item.funcargs.get(IMAGE_PARAM) if hasattr(item, "funcargs") else None
        if isinstance(image, ImageUnderTest):
            logs = image.logs()
            if logs:
                report.sections.append((f"container log ({image.ref})", logs))
    return report


def pytest_keyboard_interrupt(excinfo) -> None:
    """Ctrl-C or SIGTERM: stop the work in the background and remove every container now,
    before anything else can hang (no container is started after this)."""
    syft.stop_all()
    container_runtime.end_of_run()
