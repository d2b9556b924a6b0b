"""``python -m runtime predict INPUT.json`` from an artifact's ``handover/`` folder.

Reads a JSON body in one of MLflow's scoring shapes (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs``) or a CSV file, prints
``{"predictions": [...]}``. Exit 2 with the violations when the input breaks the contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .loader import ContractViolationError, load, to_jsonable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="predict a JSON or CSV batch")
    p.add_argument("input", help="JSON (MLflow scoring shapes) or .csv file; - for stdin")
    p.add_argument(
        "--artifact",
        default=str(Path(__file__).resolve().parent.parent),
        help="the artifact's handover/ folder (default: the one holding this runtime)",
    )
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
