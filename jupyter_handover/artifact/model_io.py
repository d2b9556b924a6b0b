"""Which object is packaged, how it is saved, and whether the code it needs ships with it.

- :func:`packaged_model`: a hyper-parameter search is packaged as its ``best_estimator_``;
  everything else as it is. Returns a one-line description for the summary.
- :func:`save_model`: the library's own stable format where it has one (xgboost UBJSON,
  LightGBM model text, CatBoost ``.cbm``), joblib otherwise, cloudpickle for a lambda of a
  tagged cell. The runtime's :mod:`~jupyter_handover.runtime.flavours` loads each.
- :func:`check_notebook_code`: classes and functions defined in the notebook that the model
  references must come from tagged cells; otherwise the error names the cell to tag.
"""

from __future__ import annotations

import linecache
from pathlib import Path
from typing import Any

from jupyter_handover.environment.model_graph import walk_model
from jupyter_handover.errors import ModelNotPicklableError
from jupyter_handover.export.cells import ExportResult
from jupyter_handover.kinds import is_booster, is_search, library, shape_text

__all__ = [
    "check_notebook_code",
    "contract_frame",
    "describe_model",
    "inference_summary",
    "packaged_model",
    "save_model",
]


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def packaged_model(model: Any) -> tuple[Any, str]:
    """(the object to package, one line saying what it is).

    A search refitted on the whole training data predicts with its ``best_estimator_``:
    that estimator is packaged (smaller, and its requirements are only what predicts, not
    every candidate of the grid); its best parameters go into the description.
    """
    name = type(model).__name__
    if is_search(model) and hasattr(model, "best_estimator_"):
        best = model.best_estimator_
        params = getattr(model, "best_params_", {}) or {}
        shown = ", ".join(f"{k}={v!r}" for k, v in list(params.items())[:6])
        return best, (
            f"{name}.best_estimator_ ({type(best).__name__}), best of the search"
            + (f": {shown}" if shown else "")
        )
    estimators = getattr(model, "estimators", None) or getattr(model, "estimators_", None)
    if library(model) == "sklearn" and isinstance(estimators, list) and estimators:
        parts = [e[0] if isinstance(e, tuple) else type(e).__name__ for e in estimators[:8]]
        return model, f"{name} of {len(estimators)} estimators ({', '.join(map(str, parts))})"
    return model, name


def describe_model(model: Any) -> str:
    """``XGBClassifier (64 features)``."""
    shape = shape_text(model)
    return f"{type(model).__name__}" + (f" ({shape})" if shape else "")


def inference_summary(model: Any, export: ExportResult, tag: str = "handover") -> str:
    """One line: how the artifact predicts."""
    name = type(model).__name__
    if "predict" in export.hooks:
        return f"inference: the tagged predict(model, df) hook on {name}"
    if not export.cells:
        proba = " (predict_proba for ?proba=true)" if hasattr(model, "predict_proba") else ""
        return (
            f"inference: {name}.predict{proba}, no tagged cells; to ship extra code "
            f'(preprocess, postprocess, helpers) tag its cell "{tag}"'
        )
    hooks = sorted(export.hooks)
    return f"inference: {name}.predict" + (f" with the tagged {', '.join(hooks)}" if hooks else "")


# -- saving ----------------------------------------------------------------------------


def _native_format(model: Any) -> tuple[str, str] | None:
    """(format, file name) of the library's own format, None for joblib."""
    kind = is_booster(model)
    if kind == "xgboost":
        return "xgboost", "model.ubj"
    if kind == "lightgbm":
        return "lightgbm", "model.txt"
    classes = {f"{k.__module__}.{k.__qualname__}" for k in type(model).__mro__}
    if "xgboost.sklearn.XGBModel" in classes and type(model).__module__.startswith("xgboost"):
        return "xgboost", "model.ubj"
    if library(model) == "catboost" and callable(getattr(model, "save_model", None)):
        return "catboost", "model.cbm"
    return None


def save_model(model: Any, hdir: Path, *, by_value: bool = False) -> dict[str, Any]:
    """Save ``model`` into ``hdir``; return the ``model_file`` entry of ``handover.json``.

    ``by_value`` (a lambda of a tagged cell inside the model) uses cloudpickle, which
    pickles such functions by value.
    """
    native = _native_format(model)
    spec: dict[str, Any] = {"class": _qualified(model)}
    try:
        if native is not None:
            fmt, file = native
            model.save_model(str(hdir / file))
            if fmt == "lightgbm" or (fmt == "xgboost" and is_booster(model)):
                spec.pop("class")
        elif by_value:
            import cloudpickle

            fmt, file = "cloudpickle", "model.pkl"
            with (hdir / file).open("wb") as fh:
                cloudpickle.dump(model, fh)
        else:
            import joblib

            fmt, file = "joblib", "model.joblib"
            joblib.dump(model, hdir / file)
    except Exception as exc:  # pickle raises many types (PicklingError, TypeError, ...)
        how = "saved with its library's save_model" if native else "pickled"
        raise ModelNotPicklableError(
            f"the model cannot be {how} ({type(exc).__name__}: {exc}); remove lambdas, open "
            "files, locks or generators from it, or wrap them in a named function"
        ) from exc
    return {"format": fmt, "path": file, **spec}


# -- code defined in the notebook ------------------------------------------------------


def _code_of(obj: Any) -> Any:
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code
    for value in vars(obj).values() if isinstance(obj, type) else ():
        code = getattr(value, "__code__", None)
        if code is not None:
            return code
    return None


def _cell_source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _defining_cell(obj: Any, qualname: str, cells: list[Any]) -> int | None:
    """Index of the notebook cell that defines ``obj``: by the source IPython cached for its
    code, else the last cell that binds its name."""
    import ast

    code = _code_of(obj)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    if lines:
        text = "".join(lines).strip()
        line = lines[code.co_firstlineno - 1].strip() if code.co_firstlineno <= len(lines) else ""
        for i, cell in enumerate(cells):
            if cell.get("cell_type") == "code" and _cell_source(cell).strip() == text:
                return i
        for i, cell in enumerate(cells):
            if line and cell.get("cell_type") == "code" and line in _cell_source(cell):
                return i
    if "<lambda>" in qualname and code is not None:
        return _lambda_cell(code, cells)
    name = qualname.split(".")[0]
    found = None
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_cell_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                found = i
    return found


def _lambda_cell(code: Any, cells: list[Any]) -> int | None:
    """The last code cell with a lambda that uses every name the lambda's code uses."""
    import re

    words = set(code.co_names) | set(code.co_varnames)
    found = None
    for i, cell in enumerate(cells):
        source = _cell_source(cell)
        if (
            cell.get("cell_type") == "code"
            and "lambda" in source
            and words <= set(re.findall(r"[A-Za-z_]\w*", source))
        ):
            found = i
    return found


def check_notebook_code(
    model: Any, export: ExportResult, notebook: Any, tag: str = "handover"
) -> bool:
    """Raise :class:`ModelNotPicklableError` for notebook code of ``model`` outside tagged
    cells (``details``: ``cell_to_tag``, ``execution_count``, ``name``). Return whether a
    lambda (or a nested function) of a tagged cell needs pickling by value."""
    walk = walk_model(model)
    cells = list(notebook.get("cells", []))
    tagged = {c.index for c in export.cells}
    by_value = False
    for qualname in sorted(walk.main_names):
        anonymous = "<" in qualname
        if not anonymous and qualname.split(".")[0] in export.defined:
            continue
        index = _defining_cell(walk.main_objects.get(qualname), qualname, cells)
        if anonymous and index is not None and index in tagged:
            by_value = True
            continue
        raise _untagged(qualname, index, notebook, tag, export.warnings)
    return by_value


def _untagged(
    qualname: str, index: int | None, notebook: Any, tag: str, before: list[str]
) -> ModelNotPicklableError:
    cells = list(notebook.get("cells", []))
    what = "a lambda" if "<lambda>" in qualname else qualname
    if index is None:
        return ModelNotPicklableError(
            f"the model uses {what}, defined in the notebook outside any tagged cell, which "
            f"cannot be loaded anywhere else: tag the cell that defines it with '{tag}' "
            "(or move it into a module of your project)"
        ).with_details(cell_to_tag=None, execution_count=None, name=qualname)
    count = cells[index].get("execution_count")
    source = _cell_source(cells[index])
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    label = f"cell #{index + 1}" + (f" [In {count}]" if count else "")
    where = f'defined in the untagged {label} "{first[:60]}", which cannot be loaded anywhere else'
    if not _tagging_works(notebook, index, tag, before):
        # tagging it would ship its training code too (and fail on the names that reads)
        how = (
            "write it as a named function in a cell of its own, tag that cell with "
            f"'{tag}' and use it in place of the lambda"
            if "<lambda>" in qualname
            else f"move the definition of {what} out of {label} into a cell of its own and "
            f"tag that cell with '{tag}'"
        )
        return ModelNotPicklableError(
            f"the model uses {what}, {where}, and that cell also runs other code (training, "
            f"plotting) that must not ship: {how} (or move {what} into a module of your project)"
        ).with_details(cell_to_tag=None, execution_count=count, name=qualname, cell=index)
    return ModelNotPicklableError(
        f"the model uses {what}, {where}: tag the cell #{index + 1} with '{tag}' (or move "
        f"{what} into a module of your project)"
    ).with_details(cell_to_tag=index, execution_count=count, name=qualname)


def _tagging_works(notebook: Any, index: int, tag: str, before: list[str]) -> bool:
    """Would tagging cell ``index`` export cleanly? A cell that also trains or plots reads
    names of untagged cells (the data, other models): tagging it alone would not do."""
    import copy
    import re

    from jupyter_handover.export.cells import export_inference_code

    trial = copy.deepcopy(notebook)
    cell = trial["cells"][index]
    tags = list(cell.setdefault("metadata", {}).get("tags") or [])
    cell["metadata"]["tags"] = [*tags, tag]
    result = export_inference_code(trial, tag=tag)
    if [p for p in result.problems if p.kind != "no-tagged-cells"]:
        return False
    # work at import time (training, reading data, plotting) would run in every server
    work = re.compile(r"\((trains|reads a file|plots|calls the network)\) at import time")
    return not any(work.search(w) and w not in before for w in result.warnings)


# -- the frame the contract describes --------------------------------------------------


def _formula_dict(data: dict[Any, Any], model: Any, target: str | None) -> tuple[Any, str | None]:
    """A dict of arrays given to a statsmodels formula: the variables it reads and the
    target (given, else the formula's response), nothing else; other dicts as they are."""
    from jupyter_handover.kinds import formula_variables, response_name

    wanted = formula_variables(model)
    by_name = {str(k): k for k in data}
    target = target if target is not None else response_name(model)
    if not wanted or not set(wanted) <= set(by_name):
        return data, target
    keep = wanted + ([target] if target in by_name and target not in wanted else [])
    return {by_name[k]: data[by_name[k]] for k in keep}, target if target in by_name else None


def contract_frame(
    train_df: Any, model: Any, target: str | None, hooks: set[str]
) -> tuple[Any, str | None]:
    """(frame, target): the training frame restricted to what the model reads, and its target.

    A statsmodels formula reads its variables (the response is the target); without a
    ``preprocess`` hook, a model that recorded its feature names reads those. The target
    stays in the frame (the contract leaves it out of the inputs and describes the output
    from it); other columns are dropped, so they are never required inputs.
    """
    import pandas as pd

    from jupyter_handover.kinds import feature_names, formula_variables, response_name

    if isinstance(train_df, dict):
        return _formula_dict(train_df, model, target)
    if not isinstance(train_df, pd.DataFrame):
        return train_df, target
    if not all(isinstance(c, str) for c in train_df.columns):  # the contract names are text
        train_df = train_df.set_axis([str(c) for c in train_df.columns], axis=1)
    by_name = {str(c): c for c in train_df.columns}
    recorded = response_name(model)
    if target is None and recorded in by_name:
        target = recorded
    wanted = formula_variables(model)
    if wanted is None and "preprocess" not in hooks:
        wanted = feature_names(model)
    if not wanted or not set(wanted) <= set(by_name):
        return train_df, target
    keep = [by_name[w] for w in wanted] + ([by_name[target]] if target in by_name else [])
    return (train_df[keep] if len(keep) < train_df.shape[1] else train_df), target
