"""The module pytest registers: the hooks (hooks.py) and the fixtures a check can use
(fixtures.py), gathered in one namespace.

Registered by the project's conftest.py (`pytest_plugins = ["imagecheck.pytest_plugin.plugin"]`)
and by the pytest11 entry point, so `pytest --images-file PATH` works from any folder.
"""
from .fixtures import (_image_under_test, ddp_runs, evidence, facts, image, progress, require_gpus, services,  # noqa: F401
                       services_as_started)
from .hooks import (pytest_addoption, pytest_cmdline_main, pytest_collection_finish,  # noqa: F401
                    pytest_collection_modifyitems, pytest_configure, pytest_configure_node, pytest_generate_tests,
                    pytest_keyboard_interrupt, pytest_report_header, pytest_runtest_call, pytest_runtest_makereport,
                    pytest_runtest_setup, pytest_runtest_teardown, pytest_unconfigure, pytest_xdist_make_scheduler)
