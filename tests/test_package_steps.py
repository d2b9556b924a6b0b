"""The package steps, defined once in Python and sent to the panel by ``%handover package --json``:
one progress display, updated in place at each step, then the result with the same list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_handover.artifact.steps import PACKAGE_STEPS, step_ids, steps_json
from jupyter_handover.interfaces.display import MIME


def _published(shell: Any, line: str) -> list[dict[str, Any]]:
    from IPython.core.displaypub import CapturingDisplayPublisher

    pub, shell.display_pub = shell.display_pub, CapturingDisplayPublisher()
    try:
        shell.run_line_magic("handover", line)
        return list(shell.display_pub.outputs)
    finally:
        shell.display_pub = pub


def test_the_steps_are_ordered_ids_with_labels() -> None:
    assert step_ids() == ["export", "contract", "model", "environment", "lock", "examples", "log"]
    assert steps_json() == [{"id": s.id, "label": s.label} for s in PACKAGE_STEPS]
    assert all(s.label and s.label[0].isupper() for s in PACKAGE_STEPS)


def test_package_json_shows_one_progress_display_updated_in_place(
    trained: tuple[Any, Path], capsys: Any
) -> None:
    shell, _ = trained
    outputs = _published(shell, "package --no-log --no-lock --json --progress lines")
    ours = [o for o in outputs if MIME in o["data"]]
    progress = [o for o in ours if o["data"][MIME].get("type") == "progress"]
    results = [o for o in ours if o["data"][MIME].get("type") != "progress"]

    # one display: shown once, then only updates of the same display_id
    assert [o["update"] for o in progress] == [False] + [True] * (len(progress) - 1)
    ids = {o["transient"]["display_id"] for o in progress}
    assert len(ids) == 1 and None not in ids
    # every step of a build without logging, in order, each with its place in the list
    seen = [o["data"][MIME] for o in progress]
    assert [d["step"] for d in seen] == step_ids()[:-1]  # "log" is skipped by --no-log
    assert [d["index"] for d in seen] == list(range(len(seen)))
    assert all(d["steps"] == steps_json() and d["total"] == len(PACKAGE_STEPS) for d in seen)

    # then the result, its own display after the progress, with the same list of steps
    assert len(results) == 1 and outputs.index(results[0]) > outputs.index(progress[-1])
    result = results[0]["data"][MIME]
    assert result["status"] == "built" and result["name"] == "small"
    assert result["steps"] == steps_json()
    # the human progress (plain lines) is still printed, as before
    out = capsys.readouterr().out
    assert "[handover" in out and "] export" in out and "] examples" in out


def test_package_without_json_shows_no_progress_display(trained: tuple[Any, Path]) -> None:
    shell, _ = trained
    outputs = _published(shell, "package --no-log --no-lock --progress lines")
    assert not [o for o in outputs if MIME in o["data"]]
    assert [o["data"].keys() for o in outputs] == [{"text/html", "text/plain"}]
