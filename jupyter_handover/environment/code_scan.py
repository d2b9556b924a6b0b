"""What inference code needs from its environment, read statically with :mod:`ast`.

:func:`import_names` lists the top-level modules the code imports; :func:`env_var_names`
the environment variables it reads (names only, never values).
"""

from __future__ import annotations

import ast

from jupyter_handover.errors import EnvironmentCaptureError

__all__ = ["env_var_names", "import_names"]


def import_names(code: str) -> set[str]:
    """Top-level module names imported anywhere in ``code`` (relative imports excluded)."""
    tree = _parse(code)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args:
            # __import__("x") and importlib.import_module("x") with a literal name.
            func = node.func
            fname = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            first = node.args[0]
            if (
                fname in ("__import__", "import_module")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
            ):
                names.add(first.value.split(".")[0])
    return names


def _parse(code: str) -> ast.Module:
    try:
        return ast.parse(code or "")
    except SyntaxError as exc:
        raise EnvironmentCaptureError(
            f"the inference code does not parse (line {exc.lineno}: {exc.msg}); "
            "export it with export_inference_code() first, which drops magics and shell escapes"
        ) from exc


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ`` (``from os import environ``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def env_var_names(inference_code: str) -> list[str]:
    """Names of the environment variables the inference code reads, sorted; never values.

    Recognised forms, with a string-literal key: ``os.environ["X"]``, ``os.environ.get("X")``,
    ``os.getenv("X")`` (also ``environ[...]``/``getenv(...)`` imported from :mod:`os`).
    """
    names: set[str] = set()
    for node in ast.walk(_parse(inference_code)):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            environ_get = (
                isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
            )
            getenv = (isinstance(func, ast.Attribute) and func.attr == "getenv") or (
                isinstance(func, ast.Name) and func.id == "getenv"
            )
            if environ_get or getenv:
                key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return sorted(names)
