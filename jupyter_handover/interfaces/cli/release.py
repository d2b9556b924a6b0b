"""``jupyter handover promote MODEL --alias NAME`` and ``jupyter handover rollback NAME``:
the registry alias moves, each gated and logged (the logic is in ``registry.aliases``)."""

from __future__ import annotations

import argparse
from typing import Any

from jupyter_handover.registry.aliases import AliasMove, previous_alias


def _tracking(uri: str | None) -> None:
    if uri:
        import mlflow

        mlflow.set_tracking_uri(uri)


def _moved(move: AliasMove, gates: str) -> str:
    former = (
        f"; the former holder, version {move.from_version}, stays reachable as "
        f"models:/{move.name}@{previous_alias(move.alias)}"
        if move.from_version
        else ""
    )
    return f"{move.name}@{move.alias} -> version {move.to_version} ({gates}){former}"


def cmd_promote(args: argparse.Namespace) -> int:
    """Move ``NAME@ALIAS`` to MODEL's version once its gates passed; exit 1 when refused."""
    from jupyter_handover.registry.aliases import promote

    _tracking(args.tracking_uri)
    move = promote(
        str(args.model), args.alias, require_shadow=args.require_shadow, reason=args.reason or ""
    )
    if move is None:
        print(f"{args.model} already holds @{args.alias}: nothing moved")
        return 0
    gates = "verification passed" + (", shadow passed" if args.require_shadow else "")
    print(_moved(move, gates))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Move ``NAME@ALIAS`` back to its newest former holder that passed verification."""
    from jupyter_handover.registry.aliases import rollback

    _tracking(args.tracking_uri)
    move = rollback(args.name, args.alias, reason=args.reason or "")
    print(_moved(move, "rolled back to a verified former holder"))
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``promote`` and ``rollback`` on the CLI's subparsers."""
    p = sub.add_parser(
        "promote", help="move a registered model alias only when verification (and shadow) passed"
    )
    p.add_argument("model", help="models:/NAME/VERSION or models:/NAME@ALIAS")
    p.add_argument("--alias", required=True, help="the alias to move (e.g. champion)")
    p.add_argument(
        "--require-shadow",
        action="store_true",
        help="refuse unless a passed shadow against the alias's current holder exists",
    )
    p.add_argument("--reason", help="why (recorded with the move)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.set_defaults(func=cmd_promote)
    r = sub.add_parser(
        "rollback", help="move an alias back to its newest former holder that passed verification"
    )
    r.add_argument("name", help="the registered model name")
    r.add_argument("--alias", required=True, help="the alias to move back (e.g. champion)")
    r.add_argument("--reason", help="why (recorded with the move)")
    r.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    r.set_defaults(func=cmd_rollback)
