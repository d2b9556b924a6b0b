"""The one exception tree: each class's exit code and HTTP status, and how every adapter
(the CLI, the magics, the server extension) reports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
from IPython.core.error import UsageError

from jupyter_handover import errors
from jupyter_handover.errors import HandoverError, HandoverUsageError, is_user_error
from jupyter_handover.interfaces.cli import main as cli

#: One instance of every class of the tree (some take more than a message).
INSTANCES: list[HandoverError] = [
    errors.HandoverError("boom"),
    errors.HandoverUsageError("boom"),
    errors.NoTaggedCellsError("boom"),
    errors.ExportError("boom", ["undefined name x"]),
    errors.DiscoveryError("boom"),
    errors.ContractError("boom"),
    errors.NotebookPathError("boom"),
    errors.EnvironmentCaptureError("boom"),
    errors.ArtifactError("boom"),
    errors.BatchError("boom"),
    errors.ArtifactNotFoundError("boom"),
    errors.ModelNotPicklableError("boom"),
    errors.TrackingError("boom", artifact_path="/tmp/a"),
    errors.VerificationError("boom"),
    errors.NothingToVerifyError("boom"),
    errors.VerifyStepError("replay", "boom"),
    errors.InterpreterNotFoundError("boom"),
    errors.EnvironmentBuildError("boom"),
    errors.ReplayError("boom"),
    errors.VerificationFailedError("boom"),
    errors.PromotionRefusedError("boom"),
    errors.ShadowRequiredError("boom"),
    errors.RollbackRefusedError("boom"),
    errors.OutputNotWritableError("boom"),
    errors.HookError("boom"),
    errors.ShadowError("boom"),
    errors.ShadowUsageError("boom"),
    errors.ShadowInputError("boom"),
    errors.ShadowEnvironmentError("boom"),
]

#: The mapping, written out: class -> (user error, CLI exit code, HTTP status).
EXPECTED = {
    "HandoverError": (False, 1, 500),
    "HandoverUsageError": (True, 2, 400),
    "NoTaggedCellsError": (True, 2, 422),
    "ExportError": (True, 2, 422),
    "DiscoveryError": (True, 2, 422),
    "ContractError": (True, 2, 422),
    "NotebookPathError": (True, 2, 422),
    "EnvironmentCaptureError": (False, 1, 500),
    "ArtifactError": (False, 1, 500),
    "BatchError": (True, 2, 400),
    "ArtifactNotFoundError": (True, 2, 404),
    "ModelNotPicklableError": (True, 2, 422),
    "TrackingError": (False, 1, 502),
    "VerificationError": (False, 1, 500),
    "NothingToVerifyError": (True, 2, 400),
    "VerifyStepError": (False, 1, 500),
    "InterpreterNotFoundError": (False, 1, 500),
    "EnvironmentBuildError": (False, 1, 500),
    "ReplayError": (False, 1, 500),
    "VerificationFailedError": (False, 1, 422),
    "PromotionRefusedError": (False, 1, 409),
    "ShadowRequiredError": (False, 1, 409),
    "RollbackRefusedError": (False, 1, 409),
    "OutputNotWritableError": (True, 2, 422),
    "HookError": (True, 2, 422),
    "ShadowError": (False, 1, 500),
    "ShadowUsageError": (True, 2, 400),
    "ShadowInputError": (True, 2, 422),
    "ShadowEnvironmentError": (False, 1, 500),
}

_IDS = [type(e).__name__ for e in INSTANCES]


def test_every_class_of_the_tree_is_listed() -> None:
    public = {
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), HandoverError)
    }
    assert public == set(EXPECTED) == {type(e).__name__ for e in INSTANCES}


@pytest.mark.parametrize("exc", INSTANCES, ids=_IDS)
def test_mapping(exc: HandoverError) -> None:
    user, exit_code, status = EXPECTED[type(exc).__name__]
    assert is_user_error(exc) is user
    assert (exc.exit_code, exc.http_status) == (exit_code, status)
    # a user mistake never answers 5xx; a failure never exits like a usage error
    assert (status < 500) if user else (exit_code == 1)
    assert str(exc) == "boom"


def test_constructor_extras() -> None:
    assert errors.ExportError("m", ["p"]).problems == ["p"]
    assert errors.TrackingError("m", artifact_path="/a").artifact_path == "/a"
    assert errors.VerifyStepError("compare", "m").step == "compare"
    assert isinstance(errors.NothingToVerifyError("m"), errors.VerificationError)


# -------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("exc", INSTANCES, ids=_IDS)
def test_cli_exits_with_the_class_exit_code(
    exc: HandoverError, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def fail(_args: Any) -> int:
        raise exc

    monkeypatch.setattr(cli, "cmd_export", fail)
    assert cli.main(["export", "any.ipynb"]) == exc.exit_code
    assert capsys.readouterr().err == "error: boom\n"


def test_cli_usage_error_of_a_real_command(capsys: Any) -> None:
    assert cli.main(["promote", "some/folder", "--alias", "production"]) == 2
    assert "promote takes a registered model version" in capsys.readouterr().err


# -------------------------------------------------------------------------- the magics


@pytest.mark.parametrize("exc", INSTANCES, ids=_IDS)
def test_magics_turn_only_user_errors_into_usage_errors(
    exc: HandoverError, shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_handover.interfaces.ipython import preview

    def fail(_magics: Any, _args: Any) -> None:
        raise exc

    monkeypatch.setattr(preview, "run_cells", fail)
    with pytest.raises(Exception, match="^boom$") as raised:
        shell.run_line_magic("handover", "cells")
    if isinstance(exc, HandoverUsageError):
        assert type(raised.value) is UsageError and raised.value.__cause__ is None
    else:
        assert raised.value is exc  # the failure itself, traceback and all


# -------------------------------------------------------------------------- the server


def test_handle_handover_error_uses_the_class_status() -> None:
    from jupyter_handover.interfaces.server.paths import handle_handover_error

    for exc in INSTANCES:
        answer = handle_handover_error(exc, "context: ")
        assert answer.status_code == exc.http_status
        assert answer.log_message == "context: boom"


async def test_unreadable_notebook_answers_its_class_status(jp_fetch: Any, jp_root_dir: Path):
    (jp_root_dir / "broken.ipynb").write_text("{not json")
    with pytest.raises(tornado.httpclient.HTTPClientError) as raised:
        await jp_fetch("jupyter-handover", "status", params={"path": "broken.ipynb"})
    assert raised.value.code == errors.NotebookPathError.http_status == 422
    assert raised.value.response is not None
    assert (
        "cannot be read as a Jupyter notebook" in json.loads(raised.value.response.body)["message"]
    )
