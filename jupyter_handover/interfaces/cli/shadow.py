"""``jupyter handover shadow CANDIDATE --against MODEL``: compare, gate, log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def cmd_shadow(args: argparse.Namespace) -> int:
    """Exit 0 when the gate passes, 1 when it fails (2 for a usage error, via main)."""
    from jupyter_handover.shadow import Thresholds, report_text, run_shadow

    if args.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(args.tracking_uri)
    defaults = Thresholds()
    limits = Thresholds(
        max_flip_rate=_or(args.max_flip_rate, defaults.max_flip_rate),
        max_prob_mad=_or(args.max_prob_mad, defaults.max_prob_mad),
        max_output_psi=_or(args.max_output_psi, defaults.max_output_psi),
        max_new_rejects=_or(args.max_new_rejects, defaults.max_new_rejects),
        min_rows=_or(args.min_rows, defaults.min_rows),
    )
    result = run_shadow(
        args.candidate,
        args.against,
        traffic=args.traffic or (),
        data=args.data,
        synthetic=args.synthetic,
        seed=args.seed,
        thresholds=limits,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        log=not args.no_log,
        say=lambda message: print(message, file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps({**result.report, "logged": result.logged}, indent=2, default=str))
    else:
        print(report_text(result.report))
        if result.logged:
            where = result.logged
            version = f" and version {where['version']}" if where.get("version") else ""
            print(f"logged to run {where['run_id']}{version} ({where['artifact']})")
    return 0 if result.passed else 1


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def add_parsers(sub: Any) -> None:
    """Register ``shadow`` on the ``jupyter handover`` subcommands."""
    p = sub.add_parser(
        "shadow",
        help="run a candidate beside the current model on the same rows; gate on the change",
    )
    p.add_argument("candidate", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    p.add_argument(
        "--against", required=True, help="the model to compare with, e.g. models:/NAME@champion"
    )
    p.add_argument(
        "--traffic",
        nargs="+",
        metavar="PATH",
        help="captured traffic (files or folders written by serve --capture)",
    )
    p.add_argument("--data", metavar="PATH", help="a .csv or .parquet file of input rows")
    p.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="N rows drawn from the champion's contract baseline",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --synthetic (default 0)")
    p.add_argument(
        "--max-flip-rate", type=float, help="upper 95%% bound of the label flip rate (default 0.05)"
    )
    p.add_argument(
        "--max-prob-mad",
        type=float,
        help="mean absolute difference of probabilities (default 0.05)",
    )
    p.add_argument(
        "--max-output-psi", type=float, help="PSI of a regressor's outputs (default 0.1)"
    )
    p.add_argument(
        "--max-new-rejects",
        type=float,
        help="upper 95%% bound of the share of rows the champion accepts and the "
        "candidate rejects (default 0.01)",
    )
    p.add_argument(
        "--min-rows", type=int, help="rows compared below which the gate fails (default 200)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-log", action="store_true", help="do not log to the candidate's run")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--cache-dir", help="cache of built environments (default: verify's)")
    p.set_defaults(func=cmd_shadow)
