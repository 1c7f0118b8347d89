"""Pure judgment over plain data: versions, release pairings, the CUDA stack, secrets,
/dev/shm, performance figures, CVE policy, DDP plans and diagnosis. Nothing here imports
docker or pytest (selftest/test_layout.py keeps it so)."""
