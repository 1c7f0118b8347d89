"""The pytest plugin, in the order a run meets it: hooks.py (options, images file,
parametrization, scheduling, cleanup), fixtures.py (what a check asks for), state.py,
items.py and xdist.py (what a process knows), outcomes.py, evidence.py and progress.py
(how a check reports), scheduling.py (xdist: an image's checks on one worker).
plugin.py gathers the hooks and fixtures for pytest."""
