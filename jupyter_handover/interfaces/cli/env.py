"""``jupyter handover diff-env MODEL``: this environment against the artifact's."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parsers", "cmd_diff_env"]


def cmd_diff_env(args: argparse.Namespace) -> int:
    """Print the comparison; exit 1 when something the model needs differs here."""
    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.environment.diff import diff_environment, diff_table

    art = load_artifact(args.model)
    diff = diff_environment(art.environment)
    if args.json:
        data: dict[str, Any] = {"model": str(args.model), **diff.to_dict()}
        print(json.dumps(data, indent=2))
    else:
        print(f"{art.metadata.get('name', args.model)}: {art.path}")
        print(diff_table(diff, limit=None if args.all else 20), end="")
    return 0 if diff.ok else 1


def add_parsers(sub: Any) -> None:
    """Register ``diff-env`` on the CLI's subparsers."""
    p = sub.add_parser(
        "diff-env",
        help="this environment against the artifact's (exit 1 when what the model needs differs)",
    )
    p.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    p.add_argument("--json", action="store_true", help="the comparison as JSON")
    p.add_argument("--all", action="store_true", help="list every harmless difference")
    p.set_defaults(func=cmd_diff_env)
