"""``jupyter handover verify MODEL``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jupyter_handover.interfaces.progress import StepProgress
from jupyter_handover.loadtest.runner import DEFAULT_P99_MS
from jupyter_handover.verify.compare import DEFAULT_ATOL, DEFAULT_RTOL


def _progress(loadtest: bool = False) -> StepProgress:
    """Plain lines on stderr (stdout carries the report)."""
    from jupyter_handover.verify.verifier import STEPS

    steps = [*STEPS, "loadtest"] if loadtest else STEPS
    return StepProgress("verify", steps, "lines", stream=sys.stderr)


def _measure(p99_ms: float) -> Any:
    """``verify --loadtest``: the single-replica capacity at the p99 budget."""
    from jupyter_handover.loadtest.capacity import measure_capacity

    def measure(handover: Any, python: Any) -> dict[str, Any]:
        return measure_capacity(handover, python, p99_ms=p99_ms)

    return measure


def _tracking(uri: str | None) -> None:
    if uri:
        import mlflow

        mlflow.set_tracking_uri(uri)


def cmd_verify(args: argparse.Namespace) -> int:
    """Replay the golden examples in a clean virtualenv; exit 0 only on a pass."""
    from jupyter_handover.interfaces.ipython.verify import summary_text
    from jupyter_handover.verify.verifier import verify_artifact

    _tracking(args.tracking_uri)
    report = verify_artifact(
        args.model,
        rtol=args.rtol,
        atol=args.atol,
        progress=_progress(args.loadtest),
        cache_dir=args.cache_dir,
        measure=_measure(args.loadtest_p99) if args.loadtest else None,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(summary_text(report))
    return 0 if report.passed else 1


def add_parsers(sub: Any) -> None:
    """Register ``verify`` on the CLI's subparsers."""
    v = sub.add_parser("verify", help="replay the golden examples in a clean virtualenv")
    v.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    v.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="relative tolerance for floats")
    v.add_argument("--atol", type=float, default=DEFAULT_ATOL, help="absolute tolerance for floats")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    v.add_argument("--cache-dir", help="cache of built environments (default: the user cache dir)")
    v.add_argument(
        "--loadtest",
        action="store_true",
        help="also measure single-replica capacity within a p99 budget (recorded in the "
        "resource profile; sizes HANDOVER.md's replicas)",
    )
    v.add_argument(
        "--loadtest-p99",
        type=float,
        default=DEFAULT_P99_MS,
        metavar="MS",
        help=f"p99 budget of --loadtest in ms (default {DEFAULT_P99_MS:g})",
    )
    v.set_defaults(func=cmd_verify)
