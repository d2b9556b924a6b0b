"""%handover in a real IPython shell: discovery, summaries, and user mistakes as UsageError."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from handover_fixtures import write_notebook
from IPython.core.error import UsageError

from jupyter_handover.errors import TrackingError
from jupyter_handover.interfaces.display import MIME


def _captured_json(capsys: Any, shell: Any, line: str) -> dict:
    from IPython.core.displaypub import CapturingDisplayPublisher

    pub = shell.display_pub
    shell.display_pub = CapturingDisplayPublisher()
    try:
        shell.run_line_magic("handover", line)
        outputs = shell.display_pub.outputs
    finally:
        shell.display_pub = pub
    return [o["data"][MIME] for o in outputs if MIME in o["data"]][-1]


def test_package_without_log(trained: tuple[Any, Path], tmp_path: Path) -> None:
    shell, nb = trained
    shell.run_line_magic("handover", "package --no-log --no-lock --examples 5")
    art = tmp_path / "handover_artifacts" / "small"
    assert (art / "handover" / "examples.json").is_file()
    meta = json.loads((art / "handover" / "handover.json").read_text())
    assert meta["notebook"]["path"] == str(nb)


def test_package_json_summary(trained: tuple[Any, Path], capsys: Any) -> None:
    shell, _ = trained
    data = _captured_json(capsys, shell, "package --no-log --no-lock --name demo --json")
    assert data["status"] == "built" and data["name"] == "demo"
    assert data["model"] == "model" and data["train"] == "X_train"
    assert "scikit-learn" in data["requirements"]


def test_status_lists_candidates(trained: tuple[Any, Path], capsys: Any) -> None:
    shell, _ = trained
    data = _captured_json(capsys, shell, "status --json")
    assert data["models"] == {"model": "Pipeline"}
    assert data["frames"]["model"] == ["X_train"]
    assert len(data["cells"]) == 1 and data["problems"] == []


def test_contract_and_cells(trained: tuple[Any, Path], capsys: Any) -> None:
    shell, _ = trained
    contract = _captured_json(capsys, shell, "contract X_train --json")
    assert [c["name"] for c in contract["columns"]] == ["a", "b", "color"]
    cells = _captured_json(capsys, shell, "cells --json")
    assert "def handover_predict" in cells["code"] and cells["problems"] == []


def test_help_prints_and_does_not_raise(shell: Any, capsys: Any) -> None:
    shell.run_line_magic("handover", "package --help")
    assert "--model" in capsys.readouterr().out


@pytest.mark.parametrize(
    "line, match",
    [
        ("", "required"),
        ("package --bogus", "unrecognized"),
        ("contract nothing_here", "not training data"),
    ],
)
def test_bad_arguments_are_usage_errors(trained: tuple[Any, Path], line: str, match: str) -> None:
    shell, _ = trained
    with pytest.raises(UsageError, match=match):
        shell.run_line_magic("handover", line)


def test_no_tagged_cell(trained: tuple[Any, Path]) -> None:
    shell, nb = trained
    write_notebook(nb, tag=False)
    with pytest.raises(UsageError, match="tag"):
        shell.run_line_magic("handover", "package --no-log --no-lock")


def test_two_candidate_models(trained: tuple[Any, Path]) -> None:
    shell, _ = trained
    shell.run_cell(
        "from sklearn.base import clone\nother = clone(model).fit(preprocess(X_train), y_train)"
    ).raise_error()
    with pytest.raises(UsageError, match=r"(?s)--model VAR:.*model: Pipeline.*other: Pipeline"):
        shell.run_line_magic("handover", "package --no-log --no-lock")
    shell.run_line_magic("handover", "package --no-log --no-lock --model other")


def test_training_frame_that_does_not_match(trained: tuple[Any, Path]) -> None:
    shell, _ = trained
    shell.run_cell("wrong = X_train.drop(columns=['color'])").raise_error()
    with pytest.raises(UsageError, match="does not match.*color"):
        shell.run_line_magic("handover", "package --no-log --no-lock --train wrong")


def test_unpicklable_model(trained: tuple[Any, Path], tmp_path: Path) -> None:
    shell, _ = trained
    shell.run_cell("import threading\nmodel.lock_ = threading.Lock()").raise_error()
    with pytest.raises(UsageError, match="cannot be pickled"):
        shell.run_line_magic("handover", "package --no-log --no-lock")
    assert not (tmp_path / "handover_artifacts" / "small").exists()


def test_unreachable_tracking_server_keeps_the_artifact(
    trained: tuple[Any, Path], tmp_path: Path
) -> None:
    shell, _ = trained
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # MLflow down is a real failure (not a user mistake): it keeps its traceback
    with pytest.raises(TrackingError, match="cannot be reached.*jupyter handover log") as err:
        shell.run_line_magic(
            "handover", f"package --no-lock --tracking-uri http://127.0.0.1:{port}"
        )
    assert not isinstance(err.value, UsageError)
    art = tmp_path / "handover_artifacts" / "small"
    assert str(art) in str(err.value)
    assert (art / "handover" / "manifest.json").is_file()


def test_notebook_outside_the_working_tree(
    trained: tuple[Any, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    shell, _ = trained
    elsewhere = write_notebook(tmp_path_factory.mktemp("elsewhere") / "other.ipynb")
    with pytest.raises(UsageError, match="outside the working tree"):
        shell.run_line_magic("handover", f"package --no-log --notebook {elsewhere}")


def test_outside_a_notebook_kernel(
    trained: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, _ = trained
    monkeypatch.delenv("JPY_SESSION_NAME")
    with pytest.raises(UsageError, match="--notebook"):
        shell.run_line_magic("handover", "package --no-log")


def test_kernel_learns_notebook_from_lab_session(
    trained: tuple[Any, Path], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, nb = trained
    monkeypatch.setenv("JPY_SESSION_NAME", nb.name)  # relative, as some servers set it
    data = _captured_json(capsys, shell, "status --json")
    assert data["notebook"] == str(nb)
