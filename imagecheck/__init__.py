"""imagecheck: decide whether a PyTorch + CUDA container image is fit to publish."""

__version__ = "0.1.0"
