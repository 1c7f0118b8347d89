"""The image under test: its shared container and facts, the probes that run inside it,
and the other ways the checks start it (its services, a derived image, torchrun runs)."""
