"""Promotion and rollback against a real ``mlflow server``: the verify and shadow gates,
``<alias>-previous``, the move log on the model versions, and ``rollback``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_handover.interfaces.cli.main import main as cli_main
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.aliases import (
    MOVE_TAG_PREFIX,
    AliasMove,
    alias_moves,
    rollback_target,
)


@pytest.fixture
def client(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ci-bot")
    mlflow.set_tracking_uri(mlflow_server)
    yield MlflowClient(tracking_uri=mlflow_server)


def _versions(client: Any, states: list[str]) -> str:
    """A new registered model with one version per verification state; returns its name."""
    name = f"release-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    exp = client.create_experiment(name)
    for state in states:
        run = client.create_run(exp)
        mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
        client.set_model_version_tag(name, mv.version, tag_keys.VERIFIED, state)
    return name


def _shadow(client: Any, name: str, version: int, status: str, against: int) -> None:
    client.set_model_version_tag(name, str(version), tag_keys.SHADOW_STATUS, status)
    client.set_model_version_tag(
        name, str(version), tag_keys.SHADOW_AGAINST, f"models:/{name}/{against}"
    )


def _holder(client: Any, name: str, alias: str) -> str:
    return str(client.get_model_version_by_alias(name, alias).version)


def _moves(client: Any, name: str, version: int) -> list[dict[str, Any]]:
    tags = client.get_model_version(name, str(version)).tags
    return [json.loads(v) for k, v in sorted(tags.items()) if k.startswith(MOVE_TAG_PREFIX)]


def test_promote_gates_previous_alias_and_move_log(client: Any, capsys: Any) -> None:
    name = _versions(client, ["passed", "passed", "failed"])

    # the first holder: nothing to shadow against, so --require-shadow lets it through
    assert (
        cli_main(["promote", f"models:/{name}/1", "--alias", "champion", "--require-shadow"]) == 0
    )
    assert _holder(client, name, "champion") == "1"
    assert "previous" not in capsys.readouterr().out

    # verify gate: a failed version never moves the alias
    assert cli_main(["promote", f"models:/{name}/3", "--alias", "champion"]) == 1
    assert "latest verification failed" in capsys.readouterr().err

    # shadow gate: never shadowed, then shadowed against another version, then failed
    promote_2 = ["promote", f"models:/{name}/2", "--alias", "champion", "--require-shadow"]
    assert cli_main(promote_2) == 1
    err = capsys.readouterr().err
    assert "never shadowed" in err
    assert f"jupyter handover shadow models:/{name}/2 --against models:/{name}@champion" in err
    _shadow(client, name, 2, "passed", against=3)
    assert cli_main(promote_2) == 1
    assert f"passed against models:/{name}/3" in capsys.readouterr().err
    _shadow(client, name, 2, "failed", against=1)
    assert cli_main(promote_2) == 1
    assert _holder(client, name, "champion") == "1"

    _shadow(client, name, 2, "passed", against=1)
    assert cli_main([*promote_2, "--reason", "better recall"]) == 0
    out = capsys.readouterr().out
    assert f"models:/{name}@champion-previous" in out
    assert _holder(client, name, "champion") == "2"
    assert _holder(client, name, "champion-previous") == "1"
    move = _moves(client, name, 2)[-1]
    assert move == _moves(client, name, 1)[-1]
    assert move["kind"] == "promote" and move["who"] == "ci-bot" and move["why"] == "better recall"
    assert (move["from_version"], move["to_version"], move["alias"]) == ("1", "2", "champion")
    assert move["at"].endswith("+00:00")

    # promoting the holder again moves nothing and logs nothing
    assert cli_main(promote_2) == 0
    assert "nothing moved" in capsys.readouterr().out
    assert len(_moves(client, name, 2)) == 1


def test_rollback_returns_to_the_former_verified_holder(client: Any, capsys: Any) -> None:
    name = _versions(client, ["passed", "passed", "passed"])
    for version in ("1", "2", "3"):
        assert cli_main(["promote", f"models:/{name}/{version}", "--alias", "champion"]) == 0
    capsys.readouterr()
    # version 2 turned out bad after it held the alias
    client.set_model_version_tag(name, "2", tag_keys.VERIFIED, "failed")

    assert cli_main(["rollback", name, "--alias", "champion", "--reason", "p99 regression"]) == 0
    assert f"{name}@champion -> version 1" in capsys.readouterr().out
    assert _holder(client, name, "champion") == "1"
    assert _holder(client, name, "champion-previous") == "3"
    moves = alias_moves(name, "champion")
    assert [(m.kind, m.from_version, m.to_version) for m in moves] == [
        ("rollback", "3", "1"),
        ("promote", "2", "3"),
        ("promote", "1", "2"),
        ("promote", None, "1"),
    ]
    assert moves[0].why == "p99 regression" and moves[0].who == "ci-bot"

    # one more rollback: 3 was rolled back away from and 2 failed: none left, alias stays
    assert cli_main(["rollback", name, "--alias", "champion"]) == 1
    err = capsys.readouterr().err
    assert "no former holder passed verification" in err
    assert "version 2 (failed)" in err and "jupyter handover promote" in err
    assert _holder(client, name, "champion") == "1"


def test_rollback_refusals_and_user_errors(client: Any, capsys: Any) -> None:
    name = _versions(client, ["passed"])
    assert cli_main(["rollback", name, "--alias", "champion"]) == 1
    assert "points at no version" in capsys.readouterr().err
    assert cli_main(["promote", f"models:/{name}/1", "--alias", "champion"]) == 0
    assert cli_main(["rollback", name, "--alias", "champion"]) == 1
    assert "none recorded" in capsys.readouterr().err
    assert cli_main(["promote", f"models:/{name}/9", "--alias", "champion"]) == 2
    assert "check the model name and version" in capsys.readouterr().err
    assert cli_main(["promote", "runs:/abc/model", "--alias", "champion"]) == 2


def _move(kind: str, old: str | None, new: str, at: str) -> AliasMove:
    return AliasMove(kind, "m", "champion", old, new, "me", f"2026-12-0{at}T00:00:00+00:00")


def test_rollback_target_walks_back_past_rolled_back_and_unverified() -> None:
    moves = [
        _move("rollback", "4", "3", "5"),
        _move("promote", "3", "4", "4"),
        _move("promote", "2", "3", "3"),
        _move("promote", "1", "2", "2"),
    ]
    verified = {"1": "passed", "2": "not-run", "3": "passed", "4": "passed"}
    # the holder is 3; 4 was rolled back away from, 2 never verified: back to 1
    assert rollback_target(moves, "3", verified) == "1"
    assert rollback_target(moves, "3", {**verified, "1": "failed"}) is None
    # 4 promoted again after its rollback: a rollback from 4 returns to 3
    again = [_move("promote", "3", "4", "6"), *moves]
    assert rollback_target(again, "4", verified) == "3"
