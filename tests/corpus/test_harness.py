"""The corpus harness itself, on a made-up two-notebook corpus: a tagged DataFrame pipeline
that must package in both modes and verify, and an ``expect_error`` entry that must stop.
Proves that the corpus test can pass (its notebooks fail today for their own reasons)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_harness import ModeResult, judge_auto, judge_explicit, run_notebook
from handover_fixtures import TAGGED_CODE, TRAIN_CODE, write_notebook

pytestmark = pytest.mark.corpus

ENTRY = {"file": "small.ipynb", "model_var": "model", "model_class": "Pipeline"}


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "notebooks").mkdir(parents=True)
    write_notebook(corpus / "notebooks" / "small.ipynb", TAGGED_CODE, TRAIN_CODE)
    return corpus


def test_a_packageable_notebook_passes_both_modes(tmp_path: Path) -> None:
    entry = {**ENTRY, "train_var": "X_train", "target_col": None, "support_files": []}
    result = run_notebook(entry, _corpus(tmp_path), tmp_path / "work")
    assert result.ok, (result, (tmp_path / "work" / "run.log").read_text()[-3000:])
    assert result.explicit.uri and result.auto.uri and result.auto.model == "model"
    assert result.explicit.verified and result.auto.verified
    assert json.loads(json.dumps(result.to_dict()))["first_error"] == ""


def test_an_expected_error_must_be_the_stop(tmp_path: Path) -> None:
    entry = {**ENTRY, "train_var": "y_train", "target_col": None, "support_files": []}
    entry["expect_error"] = "does not match the model"
    result = run_notebook(entry, _corpus(tmp_path), tmp_path / "work")
    assert not result.explicit.packaged and result.explicit.ok, result.explicit
    entry["expect_error"] = "some other text"
    judge_explicit(result.explicit, entry)
    assert not result.explicit.ok and "expected a stop mentioning" in result.explicit.why


def test_no_argument_judgement() -> None:
    picked_other = ModeResult(packaged=True, model="other", verified=True)
    judge_auto(picked_other, ENTRY)
    assert not picked_other.ok and "picked other" in picked_other.why
    listed = ModeResult(error="several fitted models: model (Pipeline, cell 3), lr (Ridge)")
    judge_auto(listed, ENTRY)
    assert listed.ok
    unrelated = ModeResult(error='no code cell is tagged "handover"')
    judge_auto(unrelated, ENTRY)
    assert not unrelated.ok
    name_only = ModeResult(error="model_2 and a model were found")
    judge_auto(name_only, ENTRY)
    assert not name_only.ok
