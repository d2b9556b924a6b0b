"""``jupyter handover verify MODEL`` and ``jupyter handover promote MODEL --alias NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jupyter_handover.errors import HandoverUsageError, PromotionRefusedError
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


def cmd_promote(args: argparse.Namespace) -> int:
    """Move ``NAME@ALIAS`` to the version of MODEL only when its latest verification passed."""
    from jupyter_handover.registry.refs import parse_model_uri
    from jupyter_handover.registry.tracking import set_alias, verification_state

    _tracking(args.tracking_uri)
    ref = parse_model_uri(str(args.model))
    if ref is None or ref.run_id is not None:
        raise HandoverUsageError(
            f"{args.model}: promote takes a registered model version "
            "(models:/NAME/VERSION or models:/NAME@ALIAS)"
        )
    target, state = verification_state(args.model)
    if not target.name or not target.version:
        raise HandoverUsageError(f"{args.model} is not a registered model version")
    if state != "passed":
        why = {
            "not-run": "it was never verified",
            "failed": "its latest verification failed (see handover_verify.json of run "
            f"{target.run_id})",
        }.get(state, f"its verification state is {state!r}")
        raise PromotionRefusedError(
            f"not moving {target.name}@{args.alias} to version {target.version}: {why}. "
            f"Run `jupyter handover verify models:/{target.name}/{target.version}` and "
            "promote once it passes"
        )
    set_alias(target.name, args.alias, target.version)
    print(f"{target.name}@{args.alias} -> version {target.version} (verification passed)")
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``verify`` and ``promote`` on the CLI's subparsers."""
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
    p = sub.add_parser(
        "promote", help="move a registered model alias only when verification passed"
    )
    p.add_argument("model", help="models:/NAME/VERSION or models:/NAME@ALIAS")
    p.add_argument("--alias", required=True, help="the alias to move (e.g. production)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.set_defaults(func=cmd_promote)
