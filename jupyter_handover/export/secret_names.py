"""Credentials recognised by the name they are stored under, and values that are no credential.

Pure and private: :mod:`jupyter_handover.export.secrets` is the only caller. A string literal
assigned to a name, attribute, dict key, keyword argument or parameter default is a
credential when the name says so:

* **strong names** (``password``, ``secret``, ``api_key``, ``client_secret``,
  ``access_token``, ...): any value that is not template text;
* **weak names** (``token``, ``auth``, ``credentials``): only a value that looks like a
  credential (``user:password``, or letters mixed with digits that are not a word such as
  ``oauth2``). In NLP code ``unk_token = "UNK"`` is a vocabulary entry, in a data frame
  ``{"token": "word"}`` renames a column, and ``auth = "kerberos"`` names a method.
"""

from __future__ import annotations

import ast
import re

__all__ = ["credential_name", "env_var_for", "is_placeholder", "named_values"]

_STRONG = re.compile(
    r"(?:^|_)(?:password|passwd|pwd|passphrase|secret|secret_key|api_?key|apikey|access_key"
    r"|private_key|client_secret|credential_secret"
    r"|(?:access|auth|api|bearer|refresh|id|session|oauth|hf|github|gh|slack|bot|personal"
    r"|personal_access|secret)_token)$"
)
_WEAK = re.compile(r"(?:^|_)(?:token|auth|credentials?)$")

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
#: ``OPENAI_API_KEY``: the name of an environment variable, not its value (case matters).
_UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
#: Auth schemes and dtypes (``{"token": "string"}`` maps a column named token to a dtype).
_NOT_SECRET_WORDS = frozenset(
    {"basic", "bearer", "digest", "oauth", "oauth2", "none", "null", "true", "false"}
    | {"str", "string", "object", "category", "bool", "boolean", "int64", "float64"}
)
#: A file path: a credential's *location*, not the credential.
_PATH = re.compile(
    r"^(?:~|\.{0,2}/|[A-Za-z]:\\)|\.(?:json|pem|key|txt|ya?ml|cfg|ini|env|p12|pfx|crt|cer|toml)$",
    re.IGNORECASE,
)
#: A word, possibly with a version: ``kerberos``, ``oauth2``, ``SCRAM-SHA-256``, ``UNK``.
_WORDLIKE = re.compile(r"^[A-Za-z]+\d*(?:[-_. ][A-Za-z]*\d*)*$")
_USER_PASSWORD = re.compile(r"^[^\s:/@]+:[^\s:/@]+$")


def is_placeholder(value: str) -> bool:
    """True for template text that cannot authenticate (``""``, ``<your-key>``, ``%s``)."""
    text = value.strip()
    return bool(
        _PLACEHOLDER.match(value)
        or _UPPER_SNAKE.match(text)
        or _PATH.search(text)
        or text.lower() in _NOT_SECRET_WORDS
    )


def _looks_like_credential(value: str) -> bool:
    """For weak names: ``user:password``, or a mix of letters and digits that is no word."""
    if _USER_PASSWORD.match(value):
        return True
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return len(value) >= 6 and has_letter and has_digit and not _WORDLIKE.match(value)


def credential_name(target: ast.expr | str | None) -> str | None:
    """The name a value is stored under, whatever it says (None for ``x[i]``, ``a.b()``...)."""
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return target.slice.value if isinstance(target.slice.value, str) else None
    if isinstance(target, ast.Constant) and isinstance(target.value, str):
        return target.value
    return target if isinstance(target, str) else None


def _is_credential(name: str, value: str) -> bool:
    key = re.sub(r"[\s-]+", "_", name.strip().lower())
    if is_placeholder(value):
        return False
    if _STRONG.search(key):
        return True
    return bool(_WEAK.search(key)) and _looks_like_credential(value)


def _pairs(tree: ast.AST) -> list[tuple[ast.expr | str | None, ast.expr | None]]:
    """Every ``(where, value)`` a value is stored under: targets, keys, keywords, defaults."""
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
            with_default = positional[len(positional) - len(args.defaults) :]
            pairs += [(a.arg, d) for a, d in zip(with_default, args.defaults, strict=True)]
            pairs += [(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return pairs


def named_values(tree: ast.AST) -> list[tuple[str, ast.Constant, bool]]:
    """``(name, literal, is_credential)`` for every string literal stored under a name."""
    out = []
    for target, value in _pairs(tree):
        name = credential_name(target)
        if name and isinstance(value, ast.Constant) and isinstance(value.value, str):
            out.append((name, value, _is_credential(name, value.value)))
    return out


def env_var_for(name: str | None, default: str) -> str:
    """The environment variable to suggest for a value stored under ``name``."""
    var = re.sub(r"\W+", "_", name or "").strip("_").upper()
    return var if var and not var[0].isdigit() else default
