"""No six characters of a credential ever leave the notebook: not in a message, a warning, a
log line, a panel payload (``%handover cells --json``, ``status --json``, the server's status
route) or a file written (``jupyter handover export -o``, ``nbconvert --to handover``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.export.cells import export_inference_code

# Built from parts so that this file itself never holds a literal credential.
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq3f9TKQ2vWd"
OPENAI = "sk-proj-" + "4fJk2LmN8pQr5sTv7wXy9zAb3cDe6fGh1iJk0lMn"
HF = "hf_" + "QmZx7Lp2Vb9Nc4Rt8Ws1Yd6Kf3Hg5Jq0Ue"
DATABRICKS = "dapi" + "8c2f4e6a0b1d3f5e7a9c2b4d6f8e0a1c"
BEARER = "Zm9vYmFyOnNlY3JldC" + "10b2tlbi12YWx1ZQ"
AZURE_KEY = "Kq7vZ2xN9pL4mR8tW1yB6cF3hJ5dG0sAeU" + "Xi+Qo/Tn7Vb2Mk9Lz4Pr8Sw1Hy6Gc3Fd5Ja0Ek=="
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PASSWORD = "Tr0ub4dor&" + "3horse"
SECRETS = [AWS_SECRET, OPENAI, HF, DATABRICKS, BEARER, AZURE_KEY, GITHUB, PASSWORD]

AZURE = (
    "DefaultEndpointsProtocol=https;AccountName=acct;"
    f"AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net"
)
TAGGED = [
    # first lines longer than the 60 characters a first line is cut to
    f'aws_secret_access_key = "{AWS_SECRET}"  # from the console\nimport os',
    f'client_settings = {{"base_url": "https://api.openai.com", "key": "{OPENAI}"}}',
    f'from huggingface_hub import login; login("{HF}")',
    f'!curl -H "Authorization: Bearer {BEARER}" https://example.com/api\nx = 1',
    f'conn = "{AZURE}"\nhost = "{DATABRICKS}"',
    f'# token: {GITHUB}\ndef broken(:  # "{GITHUB}"',
    "y = len(db_password)",
]
UNTAGGED = [f'db_password = "{PASSWORD}"  # the untagged cell that defines db_password']


def write(path: Path) -> Path:
    cells = [
        new_code_cell(s, execution_count=i + 1, metadata={"tags": ["handover"]})
        for i, s in enumerate(TAGGED)
    ]
    cells += [new_code_cell(s, execution_count=20 + i) for i, s in enumerate(UNTAGGED)]
    nbformat.write(new_notebook(cells=cells), path)
    return path


def leaks(text: str) -> list[str]:
    """Every 6-character piece of a secret that appears in ``text``."""
    return [
        secret[i : i + 6]
        for secret in SECRETS
        for i in range(len(secret) - 5)
        if secret[i : i + 6] in text
    ]


def test_the_helper_sees_a_leak() -> None:
    assert leaks(f"...{AWS_SECRET[3:9]}...") and not leaks("nothing here")


def test_export_result_holds_no_piece_of_a_secret(tmp_path: Path) -> None:
    result = export_inference_code(write(tmp_path / "nb.ipynb"))
    kinds = [p.kind for p in result.problems]
    assert kinds.count("secret") >= len(TAGGED), result.problems
    assert "undefined-name" in kinds and "syntax-error" in kinds
    everything = json.dumps(result.to_dict()) + "\n".join(map(str, result.problems))
    assert leaks(everything) == []
    assert leaks(result.code) == []
    assert any("dropped shell command" in w for w in result.warnings)
    assert leaks("\n".join(result.warnings)) == []


def test_first_line_is_redacted_before_it_is_cut() -> None:
    source = f'aws_secret_access_key = "{AWS_SECRET}"  # a long comment after it'
    cell = new_code_cell(source, execution_count=1, metadata={"tags": ["handover"]})
    result = export_inference_code(new_notebook(cells=[cell]))
    (problem,) = result.problems
    assert result.cells[0].first_line.startswith('aws_secret_access_key = "****"')
    assert leaks(str(problem)) == [] and "AWS_SECRET_ACCESS_KEY" in str(problem)


def test_cli_export_and_its_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_handover.interfaces.cli.main import main

    out = tmp_path / "inference.py"
    assert main(["export", str(write(tmp_path / "nb.ipynb")), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "problem:" in captured.err
    assert leaks(captured.out + captured.err) == []
    assert leaks(out.read_text()) == []


def test_nbconvert_output_resources_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from jupyter_handover.interfaces.nbconvert import HandoverExporter

    caplog.set_level(logging.DEBUG)
    exporter = HandoverExporter(allow_problems=True)
    exporter.log = logging.getLogger("test-handover-exporter")
    code, resources = exporter.from_filename(str(write(tmp_path / "nb.ipynb")))
    assert "handover: " in caplog.text
    assert leaks(code) == []
    assert leaks(json.dumps(resources["handover"])) == []
    assert leaks(caplog.text) == []


def _magic_json(shell: Any, line: str) -> dict[str, Any]:
    from IPython.core.displaypub import CapturingDisplayPublisher

    from jupyter_handover.interfaces.display import MIME

    pub = shell.display_pub
    shell.display_pub = CapturingDisplayPublisher()
    try:
        shell.run_line_magic("handover", line)
        outputs = shell.display_pub.outputs
    finally:
        shell.display_pub = pub
    payload = next(
        o["data"] for o in outputs if MIME in o["data"] or "application/json" in o["data"]
    )
    return dict(payload.get(MIME) or payload["application/json"])


def test_magics_cells_and_status_json(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(write(tmp_path / "nb.ipynb")))
    for line in ("cells --json", "status --json"):
        data = _magic_json(shell, line)
        assert data["problems"], line
        assert leaks(json.dumps(data, default=str)) == [], line
    captured = capsys.readouterr()
    assert leaks(captured.out + captured.err) == []


async def test_server_status_route(jp_fetch: Any, jp_root_dir: Path) -> None:
    write(Path(jp_root_dir) / "nb.ipynb")
    response = await jp_fetch("jupyter-handover", "status", params={"path": "nb.ipynb"})
    body = response.body.decode()
    assert json.loads(body)["problems"]
    assert leaks(body) == []


@pytest.mark.parametrize(
    ("source", "env_var"),
    [
        ('auth_token = "AUTH"', "AUTH_TOKEN"),  # was os.environ["****_TOKEN"]
        ('hf_token = "MY"', "HF_TOKEN"),
        (f'client = OpenAI(api_key="{OPENAI}")', "OPENAI_API_KEY"),
        (f'cfg = {{"warehouse-token": "{DATABRICKS}"}}', "DATABRICKS_TOKEN"),
        ('settings.db_password = "hunter22"', "DB_PASSWORD"),
        ('weird_value = "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7"', "WEIRD_VALUE"),  # high entropy
    ],
)
def test_suggested_variable_is_named_after_the_kind_or_the_name(source: str, env_var: str) -> None:
    cell = new_code_cell(source, execution_count=1, metadata={"tags": ["handover"]})
    result = export_inference_code(new_notebook(cells=[cell]))
    (problem,) = [p for p in result.problems if p.kind == "secret"]
    assert f'os.environ["{env_var}"]' in str(problem), problem
    assert "****_" not in str(problem).split("os.environ")[1]
