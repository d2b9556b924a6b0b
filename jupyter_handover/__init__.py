"""jupyter_handover: carry a trained model out of a notebook and into production."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only in a source tree that was never built
    __version__ = "0.0.0.dev0"

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-handover"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension: an ``ExtensionApp`` (imported here, lazily: no server code at
    package import), so its settings are traitlets and the server stops its jobs."""
    from jupyter_handover.interfaces.server.app import HandoverExtension

    return [{"module": "jupyter_handover", "app": HandoverExtension}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_handover``: register the ``%handover`` magic."""
    from jupyter_handover.interfaces.ipython.magics import HandoverMagics

    ipython.register_magics(HandoverMagics)


def unload_ipython_extension(ipython: Any) -> None:  # pragma: no cover - IPython hook
    """Nothing to tear down: the magics hold no resources."""
