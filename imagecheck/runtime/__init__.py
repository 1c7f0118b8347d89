"""How containers start and run commands, free of pytest and of images.yaml:
target.py (the Target protocol, ExecResult), engine.py (reaching the engine, images,
networks it has), container.py (a labelled, bounded container), network.py (a network for
two nodes), local.py (this host as a target), gpu.py (GPU access), readiness.py (the one
wait loop), lifecycle.py (labels, leftovers, signals), testinfra_bridge.py (testinfra's
modules over a bounded container)."""
