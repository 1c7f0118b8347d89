"""How containers start and run commands: docker.py (docker SDK), local.py (this host),
gpu.py (GPU access), lifecycle.py (labels, leftovers, signals)."""
