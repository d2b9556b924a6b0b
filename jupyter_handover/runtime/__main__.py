"""``python -m runtime ...`` from an artifact's ``handover/`` folder.

``predict INPUT`` reads a JSON body in one of MLflow's scoring shapes (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs``) or a CSV file and prints
``{"predictions": [...]}``; exit 2 with the violations when the input breaks the contract.
``serve`` runs the HTTP server (see :mod:`.server`); ``profile`` prints the resource profile
(load peak memory, single-row and 1,000-row predict latency) as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .loader import ContractViolationError, load, to_jsonable

DEFAULT_ARTIFACT = str(Path(__file__).resolve().parent.parent)


def _predict(args: argparse.Namespace) -> int:
    model = load(args.artifact)
    if args.input.endswith(".csv"):
        import pandas as pd

        payload: object = pd.read_csv(args.input)
    else:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text()
        payload = json.loads(text)
    try:
        predictions = model.predict(payload)
    except ContractViolationError as exc:
        print(json.dumps({"violations": [v.to_dict() for v in exc.violations]}), file=sys.stderr)
        return 2
    print(json.dumps({"predictions": to_jsonable(predictions)}))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .manifest import check_manifest
    from .server.app import run
    from .server.config import ServerConfig

    if args.verify_manifest:  # refused here, before uvicorn, with one clear message
        problems = check_manifest(Path(args.artifact).resolve().parent)
        if problems:
            print(
                f"error: the artifact differs from its manifest: {'; '.join(problems)}. "
                "Package the model again, or serve it anyway with --no-verify-manifest",
                file=sys.stderr,
            )
            return 2
    if args.capture and args.capture_exclude:  # refused here too, not by each worker
        contract = json.loads((Path(args.artifact) / "contract.json").read_text())
        names = {str(c.get("name")) for c in contract.get("columns", [])}
        if names and names <= set(args.capture_exclude):
            print("error: --capture-exclude names every column: exclude fewer", file=sys.stderr)
            return 2

    config = ServerConfig(
        body_limit=args.body_limit,
        batch_window_ms=args.batch_window_ms,
        max_batch=args.max_batch,
        drift_window=args.drift_window,
        max_columns=args.max_columns,
        verify_manifest=args.verify_manifest,
        drain_seconds=args.drain_seconds,
        capture_dir=str(Path(args.capture).resolve()) if args.capture else "",
        capture_rate=args.capture_rate,
        capture_max_mb=args.capture_max_mb,
        capture_exclude=tuple(args.capture_exclude),
    )
    run(args.artifact, args.host, args.port, args.workers, config, args.log_level)
    return 0


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate between 0 and 1")
    return value


def _megabytes(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} MiB: the capture cap must be above 0")
    return value


def _capture_arguments(s: argparse.ArgumentParser) -> None:
    """The ``--capture*`` options of ``serve`` (traffic capture, off by default)."""
    s.add_argument(
        "--capture",
        metavar="DIR",
        default="",
        help="write sampled requests (rows, predictions, status, latency) to JSON lines files "
        "in DIR, for `jupyter handover shadow` (default: off)",
    )
    s.add_argument(
        "--capture-rate",
        type=_rate,
        default=1.0,
        metavar="P",
        help="share of requests captured, 0..1 (default 1: every request)",
    )
    s.add_argument(
        "--capture-max-mb",
        type=_megabytes,
        default=1024.0,
        metavar="N",
        help="MiB the capture files may take in DIR; the oldest files are deleted (1024)",
    )
    s.add_argument(
        "--capture-exclude",
        action="append",
        default=[],
        metavar="COL",
        help="a column never written to the capture files (repeatable)",
    )


def _profile(args: argparse.Namespace) -> int:
    from .server.profile import measure

    print(json.dumps(measure(args.artifact, seconds=args.seconds)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the subcommand; returns the exit status."""
    from .server.config import ServerConfig

    defaults = ServerConfig()
    parser = argparse.ArgumentParser(prog="python -m runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="predict a JSON or CSV batch")
    p.add_argument("input", help="JSON (MLflow scoring shapes) or .csv file; - for stdin")
    s = sub.add_parser("serve", help="serve the model over HTTP (MLflow scoring protocol)")
    s.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workers", type=int, default=1, help="processes (each loads the model)")
    s.add_argument(
        "--batch-window-ms",
        type=float,
        default=defaults.batch_window_ms,
        help="how long concurrent requests may wait to share a predict call (0: no batching)",
    )
    s.add_argument("--max-batch", type=int, default=defaults.max_batch, help="rows per call")
    s.add_argument("--body-limit", type=int, default=defaults.body_limit, help="bytes (413)")
    s.add_argument("--drift-window", type=int, default=defaults.drift_window, help="rows")
    s.add_argument(
        "--max-columns",
        type=int,
        default=defaults.max_columns,
        help="columns a request may name (413 above; 0: max(1024, twice the contract's))",
    )
    s.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.drain_seconds,
        help="after SIGTERM, how long /ready answers 503 before the server stops accepting",
    )
    s.add_argument(
        "--no-verify-manifest",
        dest="verify_manifest",
        action="store_false",
        help="serve even when a file differs from handover/manifest.json (logged as a "
        "warning and reported by /version)",
    )
    s.add_argument("--log-level", default="info")
    _capture_arguments(s)
    f = sub.add_parser("profile", help="resource profile of the model (JSON)")
    f.add_argument("--seconds", type=float, default=1.0, help="time budget per measurement")
    for sp in (p, s, f):
        sp.add_argument(
            "--artifact",
            default=DEFAULT_ARTIFACT,
            help="the artifact's handover/ folder (default: the one holding this runtime)",
        )
    args = parser.parse_args(argv)
    handler = {"predict": _predict, "serve": _serve, "profile": _profile}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
