"""``jupyter handover validate MODEL DATA`` and ``jupyter handover drift MODEL DATA``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_handover.errors import HandoverError

if TYPE_CHECKING:
    import pandas as pd


def read_batch(path: str, contract: Any = None) -> Any:
    """A batch from a CSV, Parquet or JSON file (records, split or any MLflow shape).

    CSV carries no types: a numeric contract column that pandas read as text (because a
    few cells are not numbers) gets its numeric cells back, so only the bad cells are
    reported.
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise HandoverError(f"{path}: no such file; pass a .csv, .parquet or .json batch")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return _numbers_back(pd.read_csv(file), contract)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(file)
    if suffix in (".json", ".jsonl"):
        return _json_batch(file)
    raise HandoverError(f"{path}: unknown format {suffix!r}; use .csv, .parquet or .json")


def _numbers_back(frame: pd.DataFrame, contract: Any) -> pd.DataFrame:
    import pandas as pd

    if contract is None:
        return frame
    for spec in contract.columns:
        if spec.kind not in ("integer", "float") or spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        frame[spec.name] = numbers.astype(object).where(numbers.notna(), column.astype(object))
    return frame


def _json_batch(file: Path) -> Any:
    import pandas as pd

    if file.suffix.lower() == ".jsonl":
        return pd.read_json(file, lines=True)
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise HandoverError(f"{file}: not valid JSON ({exc})") from exc


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a batch; exit 1 when any violation is an error."""
    import pandas as pd

    from jupyter_handover.artifact.build import load_artifact

    contract = load_artifact(args.model).contract
    data = read_batch(args.data, contract)
    try:
        found = contract.validate(data)
    except ValueError as exc:
        raise HandoverError(f"{args.data}: {exc}") from exc
    errors = [v for v in found if v.severity == "error"]
    rows = len(data) if isinstance(data, pd.DataFrame) else len(contract.frame_from_payload(data))
    if args.json:
        print(json.dumps({"rows": rows, "violations": [v.to_dict() for v in found]}, indent=2))
        return 1 if errors else 0
    by_column = Counter((v.column or "(frame)", v.severity) for v in found)
    first: dict[tuple[str, str], str] = {}
    for v in found:
        first.setdefault((v.column or "(frame)", v.severity), v.problem)
    for (column, severity), count in sorted(by_column.items()):
        print(f"{severity:7} {column}: {count} problem(s), e.g. {first[(column, severity)]}")
    verdict = "FAILED" if errors else "passed"
    print(
        f"{verdict}: {rows} row(s), {len(errors)} error(s), {len(found) - len(errors)} warning(s)"
    )
    return 1 if errors else 0


def cmd_drift(args: argparse.Namespace) -> int:
    """PSI per column against the contract's baseline; exit 0 (drift is a report)."""
    import pandas as pd

    from jupyter_handover.artifact.build import load_artifact
    from jupyter_handover.runtime.drift import drift_band, psi

    contract = load_artifact(args.model).contract
    data = read_batch(args.data, contract)
    try:
        frame = data if isinstance(data, pd.DataFrame) else contract.frame_from_payload(data)
    except ValueError as exc:
        raise HandoverError(f"{args.data}: {exc}") from exc
    values = psi(contract, frame)
    if args.json:
        print(json.dumps({c: {"psi": v, "band": drift_band(v)} for c, v in values.items()}))
        return 0
    print(f"{'column':24} {'psi':>8}  band (< 0.1 stable, 0.1-0.25 moderate, >= 0.25 major)")
    for column, value in values.items():
        shown = "-" if value is None else f"{value:.4f}"
        print(f"{column[:24]:24} {shown:>8}  {drift_band(value)}")
    missing = [c for c in contract.column_names if c not in values]
    if missing:
        print(f"not in the data: {', '.join(missing)}", file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    """Register ``validate`` and ``drift`` on the ``jupyter handover`` subcommands."""
    val = sub.add_parser("validate", help="validate a CSV/Parquet/JSON batch against the contract")
    val.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    val.add_argument("data", help="a .csv, .parquet, .json (records or MLflow shape) file")
    val.add_argument("--json", action="store_true", help="print every violation as JSON")
    val.set_defaults(func=cmd_validate)
    dri = sub.add_parser("drift", help="population stability index per column vs the baseline")
    dri.add_argument("model", help="artifact folder, runs:/..., models:/NAME/VERSION or @ALIAS")
    dri.add_argument("data", help="a .csv, .parquet or .json file")
    dri.add_argument("--json", action="store_true", help="print {column: {psi, band}} as JSON")
    dri.set_defaults(func=cmd_drift)
