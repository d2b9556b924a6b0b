"""The artifact's documents come from Jinja2 templates and stay byte for byte what the
f-strings wrote before (the golden files were saved from them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from documents_inputs import (
    ENV_VARS,
    LOCK_MESSAGE,
    REQUIREMENTS,
    SERVE_REQUIREMENTS,
    contract,
    meta,
)

import jupyter_handover.artifact
from jupyter_handover.artifact.documents import render_dockerfile, render_handover_md

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES = Path(jupyter_handover.artifact.__file__).parent / "templates"


@pytest.mark.parametrize(
    "golden, args",
    [
        (
            "HANDOVER-profile.md",
            (meta(True), REQUIREMENTS, ENV_VARS, LOCK_MESSAGE, SERVE_REQUIREMENTS),
        ),
        ("HANDOVER-defaults.md", (meta(False), {}, [], "exact pins, NO HASHES", None)),
    ],
)
def test_handover_md_is_unchanged(golden: str, args: tuple) -> None:
    meta_, requirements, env_vars, lock_message, serve = args
    text = render_handover_md(meta_, contract(), requirements, env_vars, lock_message, serve)
    assert text == (GOLDEN / golden).read_text()


def test_dockerfile_is_unchanged() -> None:
    assert render_dockerfile("3.12.3") == (GOLDEN / "Dockerfile").read_text()


def test_each_document_is_its_own_template_inside_the_package() -> None:
    assert sorted(p.name for p in TEMPLATES.iterdir()) == ["Dockerfile.j2", "HANDOVER.md.j2"]


def test_a_missing_value_fails_loudly() -> None:
    broken = meta(True)
    del broken["python"]
    with pytest.raises(Exception, match="python"):
        render_handover_md(broken, contract(), REQUIREMENTS, ENV_VARS, LOCK_MESSAGE)
