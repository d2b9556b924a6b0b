"""The corpus test's results as the Markdown table of the README's "Real notebooks" section.

    .venv/bin/python benchmarks/corpus_report.py [RESULTS.json] [--manifest PATH]
        [--write README.md]

``RESULTS.json`` is what ``tests/corpus`` wrote (default: ``JUPYTER_HANDOVER_CORPUS_RESULTS``,
else ``<tmp>/jupyter_handover-corpus.json``). Prints the table; ``--write`` replaces the part of
the README between ``<!-- corpus-results:start -->`` and ``<!-- corpus-results:end -->``.
Each failure is classified by its first error: tag, array data, model type, discovery, other.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

START, END = "<!-- corpus-results:start -->", "<!-- corpus-results:end -->"

#: first-error patterns -> class, first match wins
CLASSES: list[tuple[str, str]] = [
    (r"no code cell is tagged", "tag"),
    (r"no DataFrame of that name|must be a pandas DataFrame|not a DataFrame", "array data"),
    (r"is not a fitted model|cannot be saved|not picklable|unsupported model", "model type"),
    (r"several|ambiguous|candidates|no fitted model|no training (frame|data)|picked ", "discovery"),
]


def classify(error: str) -> str:
    """The class of a first error (``ok`` when there is none)."""
    if not error:
        return "ok"
    for pattern, name in CLASSES:
        if re.search(pattern, error, re.I):
            return name
    return "other"


def _mode(res: dict[str, Any]) -> str:
    if res.get("packaged"):
        verified = {True: "verified", False: "verify FAILED", None: "not verified"}
        return f"packaged, {verified[res.get('verified')]}"
    return "stopped" + (" (as expected)" if res.get("ok") else "")


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expected_stops(test_file: Path | None = None) -> dict[str, dict[str, str]]:
    """``EXPECTED_STOP`` of ``tests/corpus/test_corpus.py`` (read, not imported)."""
    import ast

    path = test_file or Path(__file__).resolve().parents[1] / "tests/corpus/test_corpus.py"
    if not path.is_file():
        return {}
    for node in ast.parse(path.read_text()).body:
        target = getattr(node, "target", None)
        if isinstance(node, ast.AnnAssign) and getattr(target, "id", "") == "EXPECTED_STOP":
            value: dict[str, dict[str, str]] = ast.literal_eval(node.value or "{}")
            return value
    return {}


def render(
    results: dict[str, Any],
    manifest: list[dict[str, Any]] | None = None,
    stops: dict[str, dict[str, str]] | None = None,
) -> str:
    """The Markdown table, one row per notebook, and a one-line total. ``stops`` are the
    notebooks allowed to stop (``EXPECTED_STOP``): a stop with their message is marked so."""
    info = {e["file"]: e for e in manifest or []}
    stops = stops or {}
    stopped = 0
    rows = [
        "| notebook | model (class) | training data | `--model/--train` | no arguments "
        "| seconds | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for nb in results["notebooks"]:
        entry = info.get(nb["file"], {})
        model = f"`{entry.get('model_var', '?')}` ({entry.get('model_class', '?')})"
        train = f"`{entry.get('train_var', '?')}` {entry.get('train_type', '')}".strip()
        error = re.sub(r"the notebook failed in cell \[\d+\]: ", "", nb.get("first_error") or "")
        result = "ok" if nb.get("ok") else f"{classify(error)}: {_cell(error)}"
        stop = stops.get(nb["file"])
        if stop and not nb["explicit"].get("packaged") and stop["message"] in error:
            stopped += 1
            result = f"expected stop, the message names the fix: {_cell(error, 400)}"
        rows.append(
            f"| {nb['file'].removesuffix('.ipynb')} | {model} | {train} "
            f"| {_mode(nb['explicit'])} | {_mode(nb['auto'])} | {nb['seconds']:.0f} | {result} |"
        )
    rows.append("")
    total = f"**{results['passed']} of {results['total']}** notebooks pass"
    if stopped:
        verb = "notebooks stop" if stopped > 1 else "notebook stops"
        total += f"; {stopped} {verb} as expected (`EXPECTED_STOP`)"
    rows.append(total + ".")
    return "\n".join(rows)


def write_section(readme: Path, table: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main() -> None:
    default = os.environ.get(
        "JUPYTER_HANDOVER_CORPUS_RESULTS",
        str(Path(tempfile.gettempdir()) / "jupyter_handover-corpus.json"),
    )
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="?", default=default)
    parser.add_argument("--manifest", help="the corpus manifest.json (model and data columns)")
    parser.add_argument("--write", help="replace the README's corpus-results section")
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())
    manifest_path = args.manifest or next(
        (
            p
            for p in (
                os.environ.get("JUPYTER_HANDOVER_CORPUS", "") + "/manifest.json",
                str(Path(__file__).resolve().parents[2] / "shared/corpus/manifest.json"),
                "/work/shared/corpus/manifest.json",
            )
            if Path(p).is_file()
        ),
        None,
    )
    manifest = json.loads(Path(manifest_path).read_text()) if manifest_path else None
    table = render(results, manifest, expected_stops())
    if args.write:
        write_section(Path(args.write), table)
    print(table)


if __name__ == "__main__":
    main()
