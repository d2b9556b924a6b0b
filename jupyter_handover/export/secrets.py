"""Credentials in the exported code: find them, never repeat them.

Pure and private: :mod:`jupyter_handover.export.cells` is the only caller. Two rules:

* **token patterns** (cloud keys, GitHub/Slack tokens, Google API keys, private key blocks,
  JWTs, ``scheme://user:password@host``) are searched in the whole text of a cell: string
  literals, and comments too, because comments (and the IPython lines dropped as
  ``# (dropped) ...`` comments) ship in ``inference.py`` as well;
* **credential names**: a non-empty string literal assigned to a name, attribute, dict key
  or keyword argument whose name ends in ``password``, ``secret``, ``token``, ``api_key``,
  ``auth``, ... (``db_password = "..."``, ``{"api_key": "..."}``, ``connect(password=...)``).

Findings carry a masked value only: a known prefix (``AKIA****``) or nothing at all.
Template text that cannot authenticate (``""``, ``"<your-key>"``, ``"{token}"``,
``"${TOKEN}"``, ``"%s"``, ``"xxxx"``, ``"[CLS]"``) is not a finding; a real default password
such as ``"changeme"`` is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

__all__ = ["SecretFinding", "find_secrets", "redact"]


@dataclass(frozen=True)
class SecretFinding:
    """One credential-looking value: where it is, what it looks like, never what it is."""

    line: int  #: 1-based line inside the cell
    what: str  #: "an AWS access key", "a password assigned to db_password", ...
    masked: str  #: the value with its secret part replaced by ``****``
    env_var: str  #: the environment variable name to suggest
    name: str | None = None  #: the name the value is assigned to, when there is one
    value: str = field(default="", repr=False, compare=False)  #: for :func:`redact` only


# (description, pattern, number of leading characters that may be shown, suggested variable)
_PATTERNS: tuple[tuple[str, re.Pattern[str], int, str], ...] = (
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 4, "AWS_ACCESS_KEY_ID"),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        4,
        "GITHUB_TOKEN",
    ),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 5, "SLACK_TOKEN"),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), 4, "GOOGLE_API_KEY"),
    (
        "a private key",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        0,
        "PRIVATE_KEY",
    ),
    (
        "a JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        3,
        "API_TOKEN",
    ),
    ("a Stripe secret key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{16,}"), 8, "STRIPE_API_KEY"),
)

_CONNECTION = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s:/@'\"]+):([^\s@/'\"]+)@([\w.-]*)")

#: Names whose string value is a credential: the last ``_``-separated part(s) of the name.
_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|pwd|passphrase|secret|secret_key|token|auth|auth_token"
    r"|api_?key|apikey|access_key|private_key|client_secret|credentials?)$"
)

#: Values that are template text, not a credential (decision: see docs/decisions.md).
_PLACEHOLDER = re.compile(
    r"""^(?:
        \s*                                  # empty or blank
      | <[^<>]*> | \[[^\[\]]*\] | \{[^{}]*\} # <your-key>, [CLS], {token}
      | \$\{?\w+\}?                          # $TOKEN, ${TOKEN}
      | %(?:\(\w+\))?s                       # %s, %(password)s
      | (.)\1*                               # xxxx, ****, ...
      | your[\w-]*                           # your_api_key, your-token-here
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
#: Auth schemes and dtypes (``{"token": "string"}`` maps a column named token to a dtype).
_NOT_SECRET_WORDS = frozenset(
    {"basic", "bearer", "digest", "oauth", "oauth2", "none", "null", "true", "false"}
    | {"str", "string", "object", "category", "bool", "boolean", "int64", "float64", "Int64"}
)


def _mask(value: str, shown: int) -> str:
    return value[:shown] + "****"


def _pattern_findings(source: str) -> list[SecretFinding]:
    found: list[SecretFinding] = []
    for number, line in enumerate(source.splitlines(), start=1):
        for what, pattern, shown, env_var in _PATTERNS:
            for match in pattern.finditer(line):
                value = match.group()
                found.append(SecretFinding(number, what, _mask(value, shown), env_var, None, value))
        for match in _CONNECTION.finditer(line):
            scheme, user, password, host = match.groups()
            if _is_placeholder(password):
                continue
            masked = f"{scheme}{user}:****@{host}"
            what = "a connection string with a password"
            found.append(SecretFinding(number, what, masked, "DATABASE_URL", None, password))
    return found


def _is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value)) or value.strip() in _NOT_SECRET_WORDS


def _credential_name(target: ast.expr | str | None) -> str | None:
    """The name a value is stored under, when that name says "credential"."""
    if isinstance(target, ast.Name):
        name: str | None = target.id
    elif isinstance(target, ast.Attribute):
        name = target.attr
    elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        name = target.slice.value if isinstance(target.slice.value, str) else None
    elif isinstance(target, ast.Constant) and isinstance(target.value, str):
        name = target.value
    else:
        name = target if isinstance(target, str) else None
    if name and _CREDENTIAL_NAME.search(name.lower()):
        return name
    return None


def _named_values(tree: ast.AST) -> list[tuple[str, ast.Constant]]:
    """``(name, literal)`` pairs: string literals stored under a credential name."""
    pairs: list[tuple[ast.expr | str | None, ast.expr | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs += [(target, node.value) for target in node.targets]
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
            pairs.append((node.target, node.value))
        elif isinstance(node, ast.Dict):
            pairs += list(zip(node.keys, node.values, strict=True))
        elif isinstance(node, ast.Call):
            pairs += [(k.arg, k.value) for k in node.keywords]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            defaults: list[tuple[ast.arg, ast.expr | None]] = []
            with_default = positional[len(positional) - len(args.defaults) :]
            defaults += zip(with_default, args.defaults, strict=True)
            defaults += zip(args.kwonlyargs, args.kw_defaults, strict=True)
            pairs += [(a.arg, d) for a, d in defaults]
    out = []
    for target, value in pairs:
        name = _credential_name(target)
        if (
            name is not None
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
            and not _is_placeholder(value.value)
        ):
            out.append((name, value))
    return out


def find_secrets(source: str, tree: ast.Module | None) -> list[SecretFinding]:
    """Credential-looking values in one cell's plain-Python ``source`` (parsed as ``tree``).

    Sorted by line; one finding per line and kind. ``tree`` may be ``None`` (a cell that does
    not parse): then only the token patterns apply.
    """
    found = _pattern_findings(source)
    on_line = {f.line for f in found}
    for name, literal in _named_values(tree) if tree is not None else []:
        if literal.lineno in on_line:  # already reported with a more precise description
            continue
        on_line.add(literal.lineno)
        found.append(
            SecretFinding(
                literal.lineno,
                f"a credential assigned to {name}",
                "****",
                re.sub(r"\W", "_", name).upper(),
                name=name,
                value=str(literal.value),
            )
        )
    unique = {(f.line, f.what): f for f in found}
    return sorted(unique.values(), key=lambda f: f.line)


def redact(text: str, findings: list[SecretFinding]) -> str:
    """``text`` with every value of ``findings`` replaced by ``****`` (for messages)."""
    for found in findings:
        if found.value:
            text = text.replace(found.value, "****")
    return text
