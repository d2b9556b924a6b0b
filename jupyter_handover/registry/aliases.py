"""Registry aliases that move only through gates, and the log of every move.

``promote`` moves ``NAME@ALIAS`` to a verified version (and, when asked, only after a passed
shadow against the alias's current holder); ``rollback`` moves it back to the newest former
holder that passed verification. The holder an alias moves away from stays reachable as
``NAME@<ALIAS>-previous``. Every move is a tag ``handover.alias_move.<ALIAS>.<UTC stamp>``
whose value is the move as JSON (kind, who, when, from, to, why), set on both versions.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from jupyter_handover.errors import (
    ArtifactNotFoundError,
    HandoverError,
    HandoverUsageError,
    PromotionRefusedError,
    RollbackRefusedError,
    ShadowRequiredError,
    TrackingError,
)
from jupyter_handover.registry import tags as tag_keys
from jupyter_handover.registry.refs import model_version_uri, parse_model_uri

__all__ = [
    "MOVE_TAG_PREFIX",
    "PREVIOUS_SUFFIX",
    "AliasMove",
    "alias_holder",
    "alias_moves",
    "previous_alias",
    "promote",
    "rollback",
    "rollback_target",
]

#: ``NAME@<ALIAS>-previous`` is the holder ``NAME@ALIAS`` last moved away from.
PREVIOUS_SUFFIX = "-previous"
#: One model-version tag per move: ``handover.alias_move.<ALIAS>.<YYYYmmddTHHMMSSffffffZ>``.
MOVE_TAG_PREFIX = "handover.alias_move."
#: A reason longer than this is cut (MLflow caps tag values; the move must still fit).
MAX_REASON = 1000


@dataclass(frozen=True)
class AliasMove:
    """One move of ``name@alias`` from ``from_version`` (None: it held nothing) to
    ``to_version``; ``kind`` is ``promote`` or ``rollback``, ``at`` ISO-8601 UTC."""

    kind: str
    name: str
    alias: str
    from_version: str | None
    to_version: str
    who: str
    at: str
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The move as a JSON-ready dict (the value of its tag)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasMove:
        """A move read back from its tag value."""
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    @property
    def tag_key(self) -> str:
        """The model-version tag that records this move."""
        stamp = datetime.fromisoformat(self.at).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{MOVE_TAG_PREFIX}{self.alias}.{stamp}"


def previous_alias(alias: str) -> str:
    """The alias that keeps the former holder of ``alias`` reachable."""
    return f"{alias}{PREVIOUS_SUFFIX}"


def _who() -> str:
    """The MLflow user name when one is configured, else the login name (never a secret)."""
    name = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


@contextlib.contextmanager
def _mlflow_errors(what: str) -> Iterator[None]:
    """MLflow's own errors as ours: a missing name or version is a user mistake (404)."""
    try:
        yield
    except HandoverError:
        raise
    except Exception as exc:  # MlflowException, requests errors
        if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
            raise ArtifactNotFoundError(
                f"{what}: {exc}; check the model name and version (the MLflow UI lists "
                "them) and MLFLOW_TRACKING_URI"
            ) from None
        raise TrackingError(f"{what} failed ({type(exc).__name__}: {exc})") from exc


def _client(tracking_uri: str | None) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri) if tracking_uri else MlflowClient()


def alias_holder(client: Any, name: str, alias: str) -> str | None:
    """The version ``name@alias`` points at, or None when the alias is not set."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception as exc:
        if getattr(exc, "error_code", None) in (
            "RESOURCE_DOES_NOT_EXIST",
            "INVALID_PARAMETER_VALUE",
        ):
            return None
        raise


def _tag(client: Any, mv: Any, key: str) -> str | None:
    """A tag of the model version, else of its run (older handovers tagged only the run)."""
    value = (mv.tags or {}).get(key)
    if value is None and mv.run_id:
        value = client.get_run(mv.run_id).data.tags.get(key)
    return None if value is None else str(value)


def _check_verified(client: Any, mv: Any, alias: str) -> None:
    state = _tag(client, mv, tag_keys.VERIFIED) or "not-run"
    if state == "passed":
        return
    why = {
        "not-run": "it was never verified",
        "failed": f"its latest verification failed (see handover_verify.json of run {mv.run_id})",
    }.get(state, f"its verification state is {state!r}")
    raise PromotionRefusedError(
        f"not moving {mv.name}@{alias} to version {mv.version}: {why}. Run `jupyter handover "
        f"verify {model_version_uri(mv.name, mv.version)}` and promote once it passes"
    )


def _check_shadow(client: Any, mv: Any, alias: str, holder: str | None) -> None:
    """Refuse unless the candidate's latest shadow passed against the alias's holder."""
    if holder is None:
        return  # the alias holds nothing yet: there is nothing to be shadowed against
    expected = model_version_uri(mv.name, holder)
    status = _tag(client, mv, tag_keys.SHADOW_STATUS)
    against = _tag(client, mv, tag_keys.SHADOW_AGAINST)
    if status == "passed" and against == expected:
        return
    found = (
        "it was never shadowed"
        if status is None
        else f"its latest shadow {status} against {against}"
    )
    raise ShadowRequiredError(
        f"not moving {mv.name}@{alias} to version {mv.version}: --require-shadow needs a passed "
        f"shadow against the alias's holder {expected}, and {found}. Run `jupyter handover "
        f"shadow {model_version_uri(mv.name, mv.version)} --against models:/{mv.name}@{alias}` "
        "(with --traffic or --synthetic N) and promote once it passes"
    )


def _record(client: Any, move: AliasMove) -> None:
    """Move the alias, keep the former holder as ``<alias>-previous``, tag both versions."""
    client.set_registered_model_alias(move.name, move.alias, move.to_version)
    if move.from_version is not None:
        client.set_registered_model_alias(move.name, previous_alias(move.alias), move.from_version)
    value = json.dumps(move.to_dict(), sort_keys=True)
    for version in {move.to_version, move.from_version} - {None}:
        client.set_model_version_tag(move.name, version, move.tag_key, value)


def _new_move(kind: str, name: str, alias: str, old: str | None, new: str, why: str) -> AliasMove:
    now = datetime.now(timezone.utc).isoformat()
    return AliasMove(kind, name, alias, old, new, _who(), now, (why or "")[:MAX_REASON])


def promote(
    model_uri: str,
    alias: str,
    *,
    require_shadow: bool = False,
    reason: str = "",
    tracking_uri: str | None = None,
) -> AliasMove | None:
    """Move ``NAME@alias`` to the version ``model_uri`` names, once its latest verification
    passed (and, with ``require_shadow``, a shadow against the alias's current holder).

    Returns the recorded move, or None when the version already holds the alias. Raises
    :class:`PromotionRefusedError` / :class:`ShadowRequiredError` when a gate refuses.
    """
    ref = parse_model_uri(str(model_uri))
    if ref is None or ref.run_id is not None or (ref.version is None and ref.alias is None):
        raise HandoverUsageError(
            f"{model_uri}: promote takes a registered model version "
            "(models:/NAME/VERSION or models:/NAME@ALIAS)"
        )
    from jupyter_handover.registry.tracking import _model_version

    client = _client(tracking_uri)
    with _mlflow_errors(f"promote {model_uri}"):
        mv = _model_version(client, ref, str(model_uri))
        holder = alias_holder(client, mv.name, alias)
        if holder == str(mv.version):
            return None
        _check_verified(client, mv, alias)
        if require_shadow:
            _check_shadow(client, mv, alias, holder)
        move = _new_move("promote", mv.name, alias, holder, str(mv.version), reason)
        _record(client, move)
    return move


def alias_moves(
    name: str, alias: str | None = None, *, tracking_uri: str | None = None, client: Any = None
) -> list[AliasMove]:
    """Every recorded move of ``name``'s aliases (of ``alias`` only, when given), newest first."""
    client = client or _client(tracking_uri)
    prefix = MOVE_TAG_PREFIX + (f"{alias}." if alias else "")
    found: dict[str, AliasMove] = {}
    with _mlflow_errors(f"read the alias moves of {name}"):
        versions = client.search_model_versions(f"name = '{name}'")
    for mv in versions:
        for key, value in (mv.tags or {}).items():
            if not key.startswith(prefix) or key in found:
                continue
            with contextlib.suppress(ValueError, TypeError):
                found[key] = AliasMove.from_dict(json.loads(value))
    moves = [m for m in found.values() if alias is None or m.alias == alias]
    return sorted(moves, key=lambda m: m.at, reverse=True)


def rollback_target(moves: list[AliasMove], holder: str, verified: dict[str, str]) -> str | None:
    """The version a rollback returns to: the newest former holder (``from`` of a move,
    ``moves`` newest first) that passed verification, is not the current ``holder`` and was
    not itself rolled back away from since it last held the alias."""
    rolled_back: set[str] = set()
    for move in moves:
        if move.kind == "rollback" and move.from_version is not None:
            rolled_back.add(move.from_version)
        candidate = move.from_version
        if candidate is None or candidate == holder or candidate in rolled_back:
            continue
        if verified.get(candidate) == "passed":
            return candidate
    return None


def rollback(
    name: str, alias: str, *, reason: str = "", tracking_uri: str | None = None
) -> AliasMove:
    """Move ``name@alias`` back to its newest former holder that passed verification.

    Raises :class:`RollbackRefusedError` when the alias is unset or no former holder passed.
    """
    client = _client(tracking_uri)
    with _mlflow_errors(f"roll back {name}@{alias}"):
        holder = alias_holder(client, name, alias)
        if holder is None:
            raise RollbackRefusedError(
                f"{name}@{alias} points at no version, so there is nothing to roll back: promote "
                f"one with `jupyter handover promote models:/{name}/VERSION --alias {alias}`"
            )
        moves = alias_moves(name, alias, client=client)
        versions = client.search_model_versions(f"name = '{name}'")
        verified = {
            str(mv.version): _tag(client, mv, tag_keys.VERIFIED) or "not-run" for mv in versions
        }
        target = rollback_target(moves, holder, verified)
        if target is None:
            former = sorted({m.from_version for m in moves if m.from_version} - {holder}, key=int)
            listed = ", ".join(f"version {v} ({verified.get(v, 'unknown')})" for v in former)
            raise RollbackRefusedError(
                f"not rolling back {name}@{alias} (version {holder}): no former holder passed "
                f"verification (former holders: {listed or 'none recorded'}). Verify one with "
                f"`jupyter handover verify models:/{name}/VERSION`, or promote a verified "
                f"version with `jupyter handover promote models:/{name}/VERSION --alias {alias}`"
            )
        move = _new_move("rollback", name, alias, holder, target, reason)
        _record(client, move)
    return move
