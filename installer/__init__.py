"""kfstack: one spec to a working, GPU-ready Kubeflow platform."""

__version__ = "0.1.0"
