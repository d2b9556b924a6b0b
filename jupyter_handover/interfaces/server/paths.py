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


#: URI schemes of MLflow stores that are files on this machine.
_FILE_SCHEMES = ("sqlite", "file")


def confine_tracking_uri(root_dir: str | Path, uri: str, base: Path | None = None) -> str:
    """A tracking URI of a request, with its files (``sqlite:///...``, ``file:...``, a plain
    path) confined to ``root_dir``: relative paths are taken from ``base`` (default the root)
    and the answer is absolute; one that leaves the root is a 400. A server store (``http``,
    ``databricks``, a database server) passes as given.
    """
    from urllib.parse import unquote, urlparse

    if "\x00" in uri:
        raise http_error(400, "the tracking_uri contains a NUL character")
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""
    if uri in ("databricks", "databricks-uc"):  # MLflow's names for a Databricks workspace
        return uri
    if len(scheme) == 1 or (scheme and scheme not in _FILE_SCHEMES):
        return uri  # a server (or a one-letter "scheme": a Windows drive is not ours)
    if scheme == "sqlite":
        rest = uri.split(":", 1)[1]
        if not rest.startswith("///") or rest[3:] in ("", ":memory:"):
            return uri  # in memory
        path = unquote(rest[3:].split("?", 1)[0])
    elif scheme == "file":
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise http_error(400, f"tracking_uri {uri} names another host: use an http URI")
        path = unquote(parsed.path)
    else:
        path = uri
    root = Path(root_dir).expanduser().resolve()
    given = Path(path).expanduser()
    resolved = (given if given.is_absolute() else (base or root) / given).resolve()
    if not resolved.is_relative_to(root):
        raise http_error(
            400,
            f"tracking_uri {uri} lies outside the server's root directory: use a store inside "
            "it (e.g. sqlite:///mlflow.db) or an http tracking server",
        )
    return f"sqlite:///{resolved}" if scheme == "sqlite" else resolved.as_uri()


def resolve_notebook(root_dir: str | Path, path: str) -> Path:
    """An existing ``.ipynb`` file inside ``root_dir``: 400, 403 or 404 otherwise."""
    resolved = confine(root_dir, path)
    if resolved.suffix != ".ipynb":
        raise http_error(400, f"{path} is not a notebook (.ipynb)")
    if not resolved.is_file():
        raise http_error(404, f"no notebook {path} in the server's root directory")
    return resolved
