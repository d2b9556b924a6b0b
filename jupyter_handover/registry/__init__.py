"""The one MLflow I/O layer: model references, downloads, logging and registry tags.

The core reads and writes MLflow only through this package; the adapters never call the
MLflow client directly.
"""
