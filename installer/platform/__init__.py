"""The Kubeflow platform layer: the rendered tree and how it is read and written."""
