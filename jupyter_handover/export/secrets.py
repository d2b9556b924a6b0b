"""Credentials in the exported code: find them, never repeat them.

Pure and private: :mod:`jupyter_handover.export.cells` and :mod:`.checks` are the callers.
Three layers, each on the whole text of a cell (comments too: comments, and the IPython lines
dropped as ``# (dropped) ...`` comments, ship in ``inference.py`` as well):

* **token detectors** (:mod:`.secret_detectors`): detect-secrets' plugins (cloud keys, GitHub,
  Slack, Stripe, JWTs, ``scheme://user:password@host``, ...), the kinds it lacks (OpenAI
  ``sk-``/``sk-proj-``, Hugging Face ``hf_``, Databricks ``dapi``, ``Bearer`` tokens, Azure
  ``AccountKey=``) and its base64 high-entropy check, whatever name the value has;
* **private key blocks**, from ``-----BEGIN ... PRIVATE KEY-----`` to their end;
* **credential names** (:mod:`.secret_names`): a string literal stored under a name that says
  "credential" (``db_password = "..."``, ``{"api_key": "..."}``, ``connect(token=...)``).

On top, the notebook-aware part: the line in the cell, the name the value is stored under,
and the environment variable to read instead (named after the kind of token, or after that
name; never after the value). Findings carry a masked value only: a public prefix of at most
four characters (``AKIA****``) or nothing at all. :func:`redact` removes values from any text.
"""

from __future__ import annotations

import ast
import contextlib
import re
from dataclasses import dataclass, field

from jupyter_handover.export.secret_names import env_var_for, named_values

__all__ = ["SecretFinding", "find_secrets", "redact", "redact_line"]


@dataclass(frozen=True)
class SecretFinding:
    """One credential-looking value: where it is, what it looks like, never what it is."""

    line: int  #: 1-based line inside the cell
    what: str  #: "an AWS access key", "a credential assigned to db_password", ...
    masked: str  #: the value with its secret part replaced by ``****``
    env_var: str  #: the environment variable name to suggest
    name: str | None = None  #: the name the value is stored under, when there is one
    value: str = field(default="", repr=False, compare=False)  #: for :func:`redact` only


_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[^\"']*)",
    re.DOTALL,
)
_URL_USER = r"([A-Za-z][A-Za-z0-9+.-]*://)([^\s:/@'\"]+):"
#: Every token detector needs one of these: a run of 8 token characters or ``://``.
_TOKEN_HINT = re.compile(r"[\w+/=-]{8}|://")
#: Every credential name holds one of these (see :mod:`.secret_names`).
_NAME_HINT = re.compile(r"pass|pwd|secret|key|token|auth|cred", re.IGNORECASE)
_MAX_SHOWN = 4  # never more than a public prefix: no 6 characters of a secret ever show


def _private_keys(source: str) -> list[SecretFinding]:
    return [
        SecretFinding(
            source.count("\n", 0, match.start()) + 1,
            "a private key",
            "****",
            "PRIVATE_KEY",
            value=match.group(),
        )
        for match in _PRIVATE_KEY.finditer(source)
    ]


def _masked(line: str, value: str, shown: int, what: str) -> str:
    if what.startswith("a connection string"):
        match = re.search(_URL_USER + re.escape(value) + r"@([\w.-]*)", line)
        if match:
            return f"{match.group(1)}{match.group(2)}:****@{match.group(3)}"
    return value[: min(shown, _MAX_SHOWN)] + "****"


def _token_findings(
    source: str, tree: ast.Module | None
) -> tuple[list[SecretFinding], list[tuple[str, ast.Constant, bool]]]:
    """What the token detectors find, and the named literals of ``tree`` when needed (for the
    credential-name rule, or to name the variable a high-entropy value should come from)."""
    from jupyter_handover.export.secret_detectors import HIGH_ENTROPY, scan_line

    lines = source.splitlines() if _TOKEN_HINT.search(source) else []
    hits = [(n, line, hit) for n, line in enumerate(lines, start=1) for hit in scan_line(line)]
    wanted = _NAME_HINT.search(source) or any(hit.kind is HIGH_ENTROPY for *_, hit in hits)
    named = named_values(tree) if tree is not None and wanted else []
    names = {str(literal.value): name for name, literal, _ in reversed(named)}
    found: list[SecretFinding] = []
    for number, line, hit in hits:
        name = names.get(hit.value)
        env_var = hit.kind.env_var
        if hit.kind is HIGH_ENTROPY:
            env_var = env_var_for(name, env_var)
        masked = _masked(line, hit.value, hit.kind.shown, hit.kind.what)
        found.append(SecretFinding(number, hit.kind.what, masked, env_var, name, hit.value))
    return found, named


def find_secrets(source: str, tree: ast.Module | None) -> list[SecretFinding]:
    """Credential-looking values in one cell's plain-Python ``source`` (parsed as ``tree``).

    Sorted by line. ``tree`` may be ``None`` (a cell that does not parse): then only the
    token detectors and private key blocks apply.
    """
    tokens, named = _token_findings(source, tree)
    found = _private_keys(source) + tokens
    on_line = {f.line for f in found}
    for name, literal, is_credential in named:
        if not is_credential or literal.lineno in on_line:
            continue  # a line with a token is already reported, more precisely
        on_line.add(literal.lineno)
        what = f"a credential assigned to {name}"
        env_var = env_var_for(name, "SECRET")
        value = str(literal.value)
        found.append(SecretFinding(literal.lineno, what, "****", env_var, name, value))
    unique = {(f.line, f.what, f.value): f for f in found}
    return sorted(unique.values(), key=lambda f: f.line)


def redact(text: str, findings: list[SecretFinding]) -> str:
    """``text`` with every value of ``findings`` (and each line of a multi-line one) as ``****``."""
    values = {f.value for f in findings if f.value}
    values |= {part for v in values for part in v.splitlines() if len(part.strip()) >= 4}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "****")
    return text


def redact_line(text: str) -> str:
    """``text`` (one line of a cell, seen alone) with the credentials it holds as ``****``."""
    tree: ast.Module | None = None
    if _NAME_HINT.search(text):
        with contextlib.suppress(SyntaxError):
            tree = ast.parse(text.strip())
    return redact(text, find_secrets(text, tree))
