"""``jupyter handover batch MODEL INPUT OUTPUT``: contract-checked batch scoring."""

from __future__ import annotations

import argparse
import json
from typing import Any

from jupyter_handover.errors import BatchError


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def cmd_batch(args: argparse.Namespace) -> int:
    """Score INPUT into OUTPUT; exit 0 when the job ran (rejected rows are not a failure)."""
    from jupyter_handover import batch

    keep = _columns(args.keep)
    common: dict[str, Any] = {
        "keep": keep,
        "proba": args.proba,
        "overwrite": args.overwrite,
        "output_format": args.format,
    }
    if args.engine == "local":
        if args.master or args.env != "lock":
            raise BatchError("--master and --env are for --engine spark; drop them or add it")
        summary = batch.score_local(
            args.model, args.input, args.output, progress=not args.quiet, **common
        )
    else:
        summary = batch.score_spark_files(
            args.model,
            args.input,
            args.output,
            master=args.master or "local[*]",
            env=args.env,
            **common,
        )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print("\n".join(summary.lines()))
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``batch`` on the ``jupyter handover`` subcommands."""
    bat = sub.add_parser(
        "batch", help="score a Parquet/CSV table; rows that break the contract go to _rejects"
    )
    bat.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    bat.add_argument("input", help="a .parquet or .csv file, or a folder of part files")
    bat.add_argument("output", help="the folder to write (part files, and _rejects/)")
    bat.add_argument("--engine", choices=("local", "spark"), default="local")
    bat.add_argument("--master", help="Spark master URL (default local[*]); --engine spark")
    bat.add_argument(
        "--env",
        choices=("lock", "local"),
        default="lock",
        help="executors' Python: 'lock' builds the artifact's locked environment once and "
        "ships it; 'local' checks that the cluster's Python already has the lock's versions",
    )
    bat.add_argument("--keep", help="input columns to copy into OUTPUT, comma-separated")
    bat.add_argument("--proba", action="store_true", help="also write proba_<class> columns")
    bat.add_argument("--format", choices=("parquet", "csv"), help="OUTPUT format (default INPUT's)")
    bat.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    bat.add_argument("--quiet", action="store_true", help="no progress bar")
    bat.add_argument("--json", action="store_true", help="print the summary as JSON")
    bat.set_defaults(func=cmd_batch)
