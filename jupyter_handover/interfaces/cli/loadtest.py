"""``jupyter handover loadtest TARGET``: open-loop load from the contract, capacity, sizing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jupyter_handover.loadtest.payloads import DEFAULT_ROWS
from jupyter_handover.loadtest.runner import DEFAULT_P99_MS


def cmd_loadtest(args: argparse.Namespace) -> int:
    """Run the load test; print the report (text or JSON); exit 1 when it failed."""
    from jupyter_handover.loadtest.report import text_lines
    from jupyter_handover.loadtest.runner import LoadTestConfig
    from jupyter_handover.loadtest.session import loadtest

    config = LoadTestConfig(
        rps=args.rps if args.rps is not None else (10.0 if args.find_max else 20.0),
        duration=args.duration,
        find_max=args.find_max,
        p99_ms=args.p99,
        target_rps=args.target_rps,
        seed=args.seed,
    )
    outcome = loadtest(
        args.target,
        config,
        model=args.model,
        rows=args.rows,
        invalid_share=args.invalid_share,
        drift=args.drift or [],
        clean=not args.this_python,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )
    if args.html:
        from jupyter_handover.loadtest.html import render_html

        main = outcome.runs[-1]
        good = [i for i, s in enumerate(outcome.report["steps"]) if s["within_budget"]]
        if good:
            main = outcome.runs[good[-1]]
        Path(args.html).write_text(render_html(outcome.report, main))
    if args.json:
        print(json.dumps(outcome.report, indent=2, default=str))
    else:
        print("\n".join(text_lines(outcome.report)))
    for why in outcome.report["failures"]:
        print(f"error: {why}", file=sys.stderr)
    return outcome.exit_code


def add_parsers(sub: Any) -> None:
    """Register ``loadtest`` on the CLI's subparsers."""
    p = sub.add_parser(
        "loadtest",
        help="open-loop load drawn from the contract: latency, capacity, replicas",
        description="Poisson arrivals at --rps (latency from the scheduled send time), or "
        "--find-max: the highest rate within a p99 budget. TARGET is a URL of a running "
        "server (then --model names the contract) or a model, whose own server is started "
        "in its verified clean environment and stopped after.",
    )
    p.add_argument("target", help="http://HOST:PORT, or an artifact folder, runs:/..., models:/...")
    p.add_argument("--model", help="the model whose contract the requests follow (URL targets)")
    p.add_argument(
        "--rps",
        type=float,
        default=None,
        help="offered rate (default 20; with --find-max the first step, default 10)",
    )
    p.add_argument(
        "--find-max",
        action="store_true",
        help="step the rate up until p99 or the error rate breaks the budget",
    )
    p.add_argument(
        "--p99",
        type=float,
        default=DEFAULT_P99_MS,
        help=f"p99 budget in ms (default {DEFAULT_P99_MS:g})",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds of sending per run (per step with --find-max)",
    )
    _add_payload_options(p)
    p.add_argument("--target-rps", type=float, help="size the replicas for this rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--html", metavar="FILE", help="write an HTML report with plots")
    p.add_argument(
        "--this-python",
        action="store_true",
        help="serve a model with this interpreter, not its verified environment",
    )
    p.add_argument("--cache-dir", help="verify's cache of built environments")
    p.set_defaults(func=cmd_loadtest)


def _add_payload_options(p: Any) -> None:
    """What the requests carry: sizes, broken rows, drift."""
    p.add_argument(
        "--rows",
        default=DEFAULT_ROWS,
        help="request sizes ROWS:SHARE,..., e.g. 1:0.8,10:0.15,100:0.05 (default 1)",
    )
    p.add_argument(
        "--invalid-share",
        type=float,
        default=0.0,
        help="share of requests with a contract-breaking row (each must be 422)",
    )
    p.add_argument(
        "--drift",
        action="append",
        metavar="COL=SHIFT",
        help="shift a column (numbers: added; categories: share of the rarest)",
    )
