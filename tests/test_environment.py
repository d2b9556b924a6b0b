"""Environment capture, minimal requirements and hashed locks.

The lock tests that reach the package index lock one small package (``six``); everything
else runs offline.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from jupyter_handover.environment import lock as lock_module
from jupyter_handover.environment.capture import (
    EnvironmentSnapshot,
    analyze_requirements,
    canonical_name,
    capture_environment,
    env_var_names,
    minimal_requirements,
    notebook_defined_classes,
)
from jupyter_handover.environment.lock import LockResult, lock_requirements, non_index_distributions
from jupyter_handover.environment.lock_tool import pip_compile_command
from jupyter_handover.errors import EnvironmentCaptureError

INFERENCE_CODE = """\
import numpy as np
import pandas as pd
from os import path


def preprocess(df):
    return df.assign(a=np.log1p(df["a"]))
"""


def _v(name: str) -> str:
    return metadata.version(name)


@pytest.fixture(scope="module")
def fitted_pipeline() -> Pipeline:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "c": list("xyxyxz")})
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["a"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(df, [0, 1, 0, 1, 0, 1])


def _assert_portable(text: str) -> None:
    assert "/opt/" not in text
    assert "file://" not in text
    assert "/tmp/" not in text
    assert "--find-links" not in text
    assert "--index-url" not in text and "--extra-index-url" not in text


# ------------------------------------------------------------------ capture_environment


def test_capture_environment_lists_pandas_exactly_and_is_json_safe() -> None:
    env = capture_environment()
    assert env.packages["pandas"] == pd.__version__
    assert env.packages["scikit-learn"] == _v("scikit-learn")  # canonical names
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.implementation and env.machine and env.platform
    data = json.loads(json.dumps(env.to_dict()))
    assert data["packages"]["pandas"] == pd.__version__
    assert EnvironmentSnapshot.from_dict(data) == env


def test_capture_environment_starts_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"capture_environment started a subprocess: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    # platform caches uname(); make sure a cached answer does not hide a `uname -p` call.
    monkeypatch.setattr(platform, "_uname_cache", None, raising=False)
    env = capture_environment()
    assert "pandas" in env.packages


def test_snapshot_from_dict_rejects_garbage() -> None:
    with pytest.raises(EnvironmentCaptureError, match="packages"):
        EnvironmentSnapshot.from_dict({"python": "3.11.7"})


# ------------------------------------------------------------------ minimal_requirements


def test_minimal_requirements_of_a_column_transformer_pipeline(
    fitted_pipeline: Pipeline,
) -> None:
    reqs = minimal_requirements(fitted_pipeline, INFERENCE_CODE)
    assert reqs == {
        "joblib": _v("joblib"),
        "mlflow-skinny": _v("mlflow"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": _v("scikit-learn"),
    }
    for never in ("matplotlib", "ipykernel", "ipython", "jupyter-handover", "os"):
        assert never not in reqs


def test_function_transformer_func_maps_to_its_distribution() -> None:
    from scipy.special import expit

    union = FeatureUnion(
        [
            ("log", FunctionTransformer(np.log1p)),
            ("expit", FunctionTransformer(expit)),
        ]
    )
    reqs = minimal_requirements(union, "")
    assert reqs["scipy"] == _v("scipy")
    assert reqs["numpy"] == np.__version__
    assert reqs["scikit-learn"] == _v("scikit-learn")


def test_numpy_func_is_found_by_the_walk_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_handover.environment import capture as environment

    # Without the always-required set, numpy must still come from FunctionTransformer.func.
    monkeypatch.setattr(environment, "ALWAYS_REQUIRED", ())
    reqs = minimal_requirements(FunctionTransformer(np.log1p), "")
    assert reqs["numpy"] == np.__version__


def test_inference_code_imports_are_mapped_and_stdlib_skipped() -> None:
    code = (
        "import json, os\n"
        "import sklearn.metrics\n"
        "from scipy import stats\n"
        "import matplotlib.pyplot as plt\n"
        "from . import local_helpers\n"
        "def f():\n"
        "    import importlib\n"
        "    return importlib.import_module('six')\n"
    )
    reqs = minimal_requirements(object(), code)
    assert reqs["scikit-learn"] == _v("scikit-learn")
    assert reqs["scipy"] == _v("scipy")
    assert reqs["matplotlib"] == _v("matplotlib")  # imported by the code: kept
    assert reqs["six"] == _v("six")
    assert "json" not in reqs and "os" not in reqs and "importlib" not in reqs


def test_notebook_tooling_met_by_the_walk_is_excluded() -> None:
    import matplotlib
    from IPython.core.interactiveshell import InteractiveShell

    class Holder:
        pass

    holder = Holder()
    holder.shell_class = InteractiveShell  # type: ignore[attr-defined]
    holder.plotting = matplotlib  # type: ignore[attr-defined]
    analysis = analyze_requirements(holder, "")
    assert "ipython" not in analysis.requirements
    assert "matplotlib" not in analysis.requirements
    assert {"IPython", "matplotlib"} <= set(analysis.excluded)


def test_unresolved_imports_are_reported() -> None:
    analysis = analyze_requirements(object(), "import my_local_helpers\n")
    assert analysis.unresolved == ["my_local_helpers"]


def test_syntax_error_in_inference_code_is_an_environment_error() -> None:
    with pytest.raises(EnvironmentCaptureError, match="line 1"):
        minimal_requirements(object(), "%matplotlib inline\n")


def test_walk_survives_cycles_and_deep_nesting() -> None:
    a: list[object] = []
    a.append(a)
    deep: list[object] = [StandardScaler()]
    for _ in range(200):
        deep = [deep]
    with pytest.warns(RuntimeWarning, match="incomplete"):
        reqs = minimal_requirements([a, deep], "")
    assert "joblib" in reqs


# ------------------------------------------------------------------ notebook_defined_classes


def test_notebook_defined_classes_finds_main_classes_and_functions() -> None:
    class Clipper(StandardScaler):  # type: ignore[misc]
        pass

    Clipper.__module__ = "__main__"

    def add_one(x: object) -> object:
        return x

    add_one.__module__ = "__main__"

    model = Pipeline([("clip", Clipper()), ("f", FunctionTransformer(add_one))])
    found = notebook_defined_classes(model)
    assert any(name.endswith("Clipper") for name in found)
    assert any(name.endswith("add_one") for name in found)
    # The sklearn base class is still a requirement.
    assert "scikit-learn" in minimal_requirements(model, "")
    assert notebook_defined_classes(Pipeline([("s", StandardScaler())])) == []


# ------------------------------------------------------------------ env_var_names


def test_env_var_names_finds_the_three_forms_and_never_values() -> None:
    code = (
        "import os\n"
        "from os import environ, getenv\n"
        "TOKEN = os.environ['API_TOKEN']\n"
        "REGION = os.environ.get('REGION', 'secret-default-value')\n"
        "LEVEL = os.getenv('LOG_LEVEL', 'DEBUG')\n"
        "HOST = environ['DB_HOST']\n"
        "PORT = getenv('DB_PORT')\n"
        "name = 'DYNAMIC'\n"
        "DYN = os.getenv(name)\n"
    )
    names = env_var_names(code)
    assert names == ["API_TOKEN", "DB_HOST", "DB_PORT", "LOG_LEVEL", "REGION"]
    assert "secret-default-value" not in json.dumps(names)
    assert "DEBUG" not in names
    assert env_var_names("x = 1\n") == []


# ------------------------------------------------------------------ lock_requirements


SIX = {"six": _v("six")}


def test_lock_is_hashed_portable_and_cached(tmp_path: Path) -> None:
    env = capture_environment()
    first = lock_requirements(SIX, env.packages, cache_dir=tmp_path)
    assert isinstance(first, LockResult)
    assert first.hashes is True, first.message
    assert first.tool in ("uv", "pip-compile")
    assert first.cached is False
    assert f"six=={SIX['six']}" in first.text
    assert "--hash=sha256:" in first.text
    _assert_portable(first.text)

    second = lock_requirements(SIX, env.packages, cache_dir=tmp_path)
    assert second.cached is True
    assert second.text == first.text
    assert second.hashes is True


def _failing_tool(monkeypatch: pytest.MonkeyPatch, cmd: list[str]) -> None:
    monkeypatch.setattr(lock_module, "find_lock_tool", lambda: ("uv", cmd))


def test_unreachable_index_falls_back_to_exact_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = lock_module.find_lock_tool()
    if found is None or found[0] != "uv":
        pytest.skip("uv is not installed")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("UV_OFFLINE", "0")
    res = lock_requirements(SIX, SIX, cache_dir=tmp_path, timeout=60)
    assert res.hashes is False
    assert res.tool == "fallback"
    assert "WITHOUT hashes" in res.message
    assert f"six=={SIX['six']}" in res.text
    assert "--hash" not in res.text
    assert res.text.startswith("#")
    _assert_portable(res.text)
    assert not list(tmp_path.glob("*.lock")), "a fallback lock must not be cached"


def test_failing_tool_falls_back_with_the_dependency_closure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_tool(monkeypatch, [sys.executable, "-c", "import sys; sys.exit('no route')"])
    env = capture_environment()
    res = lock_requirements(
        {"scikit-learn": env.packages["scikit-learn"]}, env.packages, cache_dir=tmp_path
    )
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "no route" in res.message
    for dep in ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"):
        assert f"{dep}=={env.packages[dep]}" in res.text
    assert "matplotlib" not in res.text


def test_timeout_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_tool(monkeypatch, [sys.executable, "-c", "import time; time.sleep(30)"])
    res = lock_requirements(SIX, SIX, cache_dir=tmp_path, timeout=1)
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "timed out" in res.message


def test_missing_tools_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock_module, "find_lock_tool", lambda: None)
    res = lock_requirements(SIX, SIX, cache_dir=tmp_path)
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "uv" in res.message


def test_non_index_constraints_are_skipped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_info = tmp_path / "site" / "my_editable_pkg-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: my-editable-pkg\nVersion: 0.1\n"
    )
    (dist_info / "direct_url.json").write_text(
        json.dumps({"url": "file:///home/me/src/pkg", "dir_info": {"editable": True}})
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    constraints = {"torch": "2.1.0+cpu", "my-editable-pkg": "0.1", **SIX}
    reasons = non_index_distributions(constraints)
    assert reasons == {
        "torch": "local version label (2.1.0+cpu)",
        "my-editable-pkg": "editable install",
    }

    _failing_tool(monkeypatch, [sys.executable, "-c", "raise SystemExit(1)"])
    res = lock_requirements(SIX, constraints, cache_dir=tmp_path)
    assert set(res.skipped) == {"torch", "my-editable-pkg"}
    assert "torch" in res.message and "my-editable-pkg" in res.message
    _assert_portable(res.text)


def test_non_index_requirement_goes_straight_to_fallback(tmp_path: Path) -> None:
    res = lock_requirements({"torch": "2.1.0+cpu"}, {}, cache_dir=tmp_path)
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "torch==2.1.0+cpu" in res.text
    assert "local version label" in res.message


@pytest.mark.parametrize(
    "requirements",
    [{}, {"six": ">=1.0"}, {"six": ""}, {"": "1.0"}],
)
def test_bad_inputs_are_programming_errors(requirements: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(EnvironmentCaptureError):
        lock_requirements(requirements, {}, cache_dir=tmp_path)


def test_unsatisfiable_pins_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = "import sys; print('error: No solution found when resolving'); sys.exit(1)"
    _failing_tool(monkeypatch, [sys.executable, "-c", script])
    res = lock_requirements(SIX, SIX, cache_dir=tmp_path)
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "no solution" in res.message
    assert "Fix the cause" in res.message


def test_cache_key_depends_on_python_version(tmp_path: Path) -> None:
    first = lock_requirements(SIX, SIX, cache_dir=tmp_path)
    if not first.hashes:
        pytest.skip(f"index unreachable here: {first.message}")
    again = lock_requirements(SIX, SIX, cache_dir=tmp_path, python_version="3.10")
    assert again.cached is False and again.hashes is True
    assert len(list(tmp_path.glob("*.lock"))) == 2


@pytest.mark.e2e
def test_pip_compile_lock_is_hashed_and_portable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmd = pip_compile_command()
    if cmd is None:
        pytest.skip("pip-tools is not installed")
    monkeypatch.setattr(lock_module, "find_lock_tool", lambda: ("pip-compile", cmd))
    res = lock_requirements(SIX, SIX, cache_dir=tmp_path, timeout=300)
    assert (res.tool, res.hashes) == ("pip-compile", True), res.message
    assert "--hash=sha256:" in res.text
    _assert_portable(res.text)


# ------------------------------------------------------------------ snapshot fields and index


def test_snapshot_describes_interpreter_platform_and_hardware() -> None:
    import os
    import sysconfig

    env = capture_environment()
    assert env.abi == sysconfig.get_config_var("SOABI")
    assert env.os == os.uname().sysname and env.os_release == os.uname().release
    if sys.platform.startswith("linux"):
        assert env.libc.startswith(("glibc", "musl"))
    assert env.cpu_count is not None and env.cpu_count >= 1
    assert env.memory_bytes is not None and env.memory_bytes > 2**26
    data = env.to_dict()
    for key in ("abi", "os", "libc", "cpu_count", "memory_bytes", "origins", "imported"):
        assert key in data
    # Files written before these keys existed still load.
    old = EnvironmentSnapshot.from_dict({"python": "3.11.7", "packages": {"Six": "1.0"}})
    assert old.packages == {"six": "1.0"} and old.imported == {} and old.cpu_count is None


def test_packages_equal_importlib_metadata() -> None:
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        expected.setdefault(canonical_name(dist.metadata["Name"]), dist.version)
    assert capture_environment().packages == expected


def test_imported_modules_map_to_their_distributions() -> None:
    import sklearn  # noqa: F401
    import yaml  # noqa: F401

    env = capture_environment()
    assert env.imported["sklearn"] == "scikit-learn"
    assert env.imported["yaml"] == "pyyaml"
    assert env.imported["pandas"] == "pandas"
    assert "json" not in env.imported and "os" not in env.imported
    mapping = metadata.packages_distributions()
    for module, dist in env.imported.items():
        if dist is not None and module in mapping:
            assert dist in {canonical_name(d) for d in mapping[module]}, module


def test_editable_install_origin_is_recorded() -> None:
    raw = metadata.distribution("jupyter_handover").read_text("direct_url.json")
    if not raw:
        pytest.skip("jupyter_handover is not installed from a folder here")
    env = capture_environment()
    assert env.origins["jupyter-handover"] == json.loads(raw)
    assert env.imported.get("jupyter_handover") == "jupyter-handover"


def _fake_dist(site: Path, name: str, version: str, *, requires: str = "", url: str = "") -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + (f"Requires-Dist: {requires}\n" if requires else "")
    )
    (info / "RECORD").write_text(f"{name.replace('-', '_')}/__init__.py,,\n")
    if url:
        (info / "direct_url.json").write_text(
            json.dumps({"url": url, "dir_info": {"editable": True}})
        )


def test_index_sees_a_distribution_installed_after_the_first_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "late-pkg" not in capture_environment().packages
    _fake_dist(site, "late-pkg", "2.0")  # changes the folder's mtime: the cache is stale
    assert capture_environment().packages["late-pkg"] == "2.0"


def test_non_index_packages_the_model_needs_come_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _fake_dist(site, "fake-model", "1.0", requires="fake-accel")
    _fake_dist(site, "fake-accel", "2.1.0+cpu")
    _fake_dist(site, "my-tools", "0.1", url="file:///home/me/src/tools")
    monkeypatch.syspath_prepend(str(site))
    _failing_tool(monkeypatch, [sys.executable, "-c", "raise SystemExit(1)"])
    constraints = {"fake-model": "1.0", "fake-accel": "2.1.0+cpu", "my-tools": "0.1", **SIX}
    res = lock_requirements({"fake-model": "1.0"}, constraints, cache_dir=tmp_path)
    assert "NEEDED BY THE MODEL, NOT ON AN INDEX: fake-accel==2.1.0+cpu" in res.message
    assert "--extra-index-url" in res.message and "fake-accel==2.1.0" in res.message
    assert "not needed by the model" in res.message and "my-tools==0.1" in res.message
    assert "fake-accel==2.1.0+cpu" in res.text  # the exact kernel pin stays in the lock

    res = lock_requirements({"my-tools": "0.1"}, constraints, cache_dir=tmp_path)
    assert (res.hashes, res.tool) == (False, "fallback")
    assert "pip wheel --no-deps" in res.message and "tagged 'handover'" in res.message
