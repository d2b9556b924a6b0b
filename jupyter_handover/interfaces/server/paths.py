"""Notebook and artifact paths of HTTP requests, resolved and confined to the server's root."""

from __future__ import annotations

from pathlib import Path

from tornado.web import HTTPError

from jupyter_handover.errors import HandoverError


class _MessageError(HTTPError):
    """An :class:`HTTPError` whose message is shown as written.

    Given a message and no arguments, tornado's ``log_message`` doubles every ``%`` (for
    its ``%``-formatting), and ``APIHandler.write_error`` answers that doubled text: a path
    ``..%2f`` came back as ``..%%2f``. Logging goes through ``get_message()``, unaffected.
    """

    @property
    def log_message(self) -> str | None:
        return self.get_message()


def http_error(status: int, message: str) -> HTTPError:
    """An HTTP error whose JSON answer (``APIHandler.write_error``) carries ``message``."""
    return _MessageError(status, message)


def handle_handover_error(exc: HandoverError, context: str = "") -> HTTPError:
    """The HTTP answer to one of our errors: its class's ``http_status`` and its message
    (after ``context``, e.g. ``"MLflow is unreachable: "``). Raise it ``from exc``."""
    return http_error(exc.http_status, f"{context}{exc}")


def confine(root_dir: str | Path, path: str) -> Path:
    """``path`` (relative to ``root_dir``, or absolute) resolved, symlinks followed.

    Raises 400 for an empty path and 403 for a path that leaves ``root_dir`` (``../``, an
    absolute path elsewhere, a symlink pointing out). Existence is not checked.
    """
    if not path or not path.strip():
        raise http_error(400, "the query parameter path is required (a notebook path)")
    if "\x00" in path:
        raise http_error(400, "the path contains a NUL character")
    root = Path(root_dir).expanduser().resolve()
    given = Path(path).expanduser()
    resolved = (given if given.is_absolute() else root / given).resolve()
    if not resolved.is_relative_to(root):
        raise http_error(403, f"{path} lies outside the server's root directory")
    return resolved


def resolve_notebook(root_dir: str | Path, path: str) -> Path:
    """An existing ``.ipynb`` file inside ``root_dir``: 400, 403 or 404 otherwise."""
    resolved = confine(root_dir, path)
    if resolved.suffix != ".ipynb":
        raise http_error(400, f"{path} is not a notebook (.ipynb)")
    if not resolved.is_file():
        raise http_error(404, f"no notebook {path} in the server's root directory")
    return resolved
