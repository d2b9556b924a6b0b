"""Credentials in tagged cells are problems of kind "secret"; look-alikes are not."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.export.cells import ExportResult, export_inference_code

# Built from parts so that this file itself never holds a literal credential.
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SLACK = "xoxb-" + "123456789012-abcdefABCDEF"
GOOGLE = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----"


def export(source: str) -> ExportResult:
    cell = new_code_cell(source, execution_count=4, metadata={"tags": ["handover"]})
    return export_inference_code(new_notebook(cells=[cell]))


def secrets(result: ExportResult) -> list[str]:
    return [str(p) for p in result.problems if p.kind == "secret"]


@pytest.mark.parametrize(
    ("source", "secret", "what", "env_var"),
    [
        (f'KEY_ID = "{AWS_KEY}"', AWS_KEY, "an AWS access key", "AWS_ACCESS_KEY_ID"),
        (f'gh = "{GITHUB}"', GITHUB, "a GitHub token", "GITHUB_TOKEN"),
        (f'hook = "{SLACK}"', SLACK, "a Slack token", "SLACK_TOKEN"),
        (f'maps = "{GOOGLE}"', GOOGLE, "a Google API key", "GOOGLE_API_KEY"),
        (f'jwt = "{JWT}"', JWT, "a JSON Web Token", "API_TOKEN"),
        (f'pem = """{PEM}\nMIIEow..."""', "MIIEow", "a private key", "PRIVATE_KEY"),
        (
            'db_password = "hunter22"',
            "hunter22",
            "a credential assigned to db_password",
            "DB_PASSWORD",
        ),
        ('passwd = "s3cr3t!"', "s3cr3t!", "a credential assigned to passwd", "PASSWD"),
        ('API_KEY = "k-19fa0c"', "k-19fa0c", "a credential assigned to API_KEY", "API_KEY"),
        ('apikey = "k-19fa0c"', "k-19fa0c", "a credential assigned to apikey", "APIKEY"),
        ('client_secret = "abc123xyz"', "abc123xyz", "client_secret", "CLIENT_SECRET"),
        ('self_token = "abc123xyz"', "abc123xyz", "self_token", "SELF_TOKEN"),
        ('auth = "user:pw"', "user:pw", "a credential assigned to auth", "AUTH"),
        ('cfg = {"password": "hunter22"}', "hunter22", "assigned to password", "PASSWORD"),
        ('f = connect(host="db", token="abc123xyz")', "abc123xyz", "token", "TOKEN"),
        ('def f(password="hunter22"):\n    return password', "hunter22", "password", "PASSWORD"),
        (
            'URL = "postgresql://scott:tiger@db.example.com/sales"',
            "tiger",
            "connection string",
            "DATABASE_URL",
        ),
        # decision: a well-known default password is a credential, not a placeholder
        ('password = "changeme"', "changeme", "assigned to password", "PASSWORD"),
    ],
)
def test_each_credential_pattern_is_a_problem(
    source: str, secret: str, what: str, env_var: str
) -> None:
    result = export(source)
    found = secrets(result)
    assert len(found) == 1, result.problems
    message = found[0]
    assert 'cell [4] "' in message and "line 1" in message
    assert what in message
    assert f'os.environ["{env_var}"]' in message
    assert secret not in message  # never repeat the value
    assert not result.ok
    problem = next(p for p in result.problems if p.kind == "secret")
    assert problem.cell is not None and problem.cell["execution_count"] == 4
    assert problem.line == 1


def test_masked_value_keeps_only_a_known_prefix() -> None:
    (message,) = secrets(export(f'x = "{AWS_KEY}"'))
    assert '"AKIA****"' in message
    (message,) = secrets(export('URL = "mysql://app:pa55word@10.0.0.5/db"'))
    assert "mysql://app:****@10.0.0.5" in message and "pa55word" not in message


def test_secret_in_a_comment_or_a_dropped_shell_line_ships_too() -> None:
    result = export(f"x = 1\n# token: {GITHUB}\n!curl -H 'Authorization: {GITHUB}' example.com")
    assert len(secrets(result)) == 2
    assert [p.line for p in result.problems] == [2, 3]


def test_secret_line_is_the_line_in_the_cell() -> None:
    result = export(f'import os\n\n\nKEY = "{AWS_KEY}"')
    (problem,) = result.problems
    assert problem.line == 4 and "line 4" in str(problem)


@pytest.mark.parametrize(
    "source",
    [
        # hashes and ids
        'EXPECTED_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        'commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
        "# model id 123e4567-e89b-12d3-a456-426614174000 (UUID in a comment)",
        'run_id = "123e4567-e89b-12d3-a456-426614174000"',
        # column names and references to environment variables
        'FEATURES = ["password_reset_count", "token_count", "api_key_age_days"]',
        'password_reset_count = "password_reset_count"',
        'dtypes = {"token": "category", "password": "string"}',
        'import os\napi_key = os.environ["API_KEY"]',
        'import os\ntoken = os.environ.get("TOKEN")',
        'import os\nTOKEN_ENV = "API_TOKEN"\ntoken = os.getenv(TOKEN_ENV)',
        # empty values and template text
        'password = ""',
        'api_key = "<your-key>"',
        'token = "${API_TOKEN}"',
        'secret = "{secret}"',
        'password = "xxxxxxxx"',
        'api_key = "YOUR_API_KEY"',
        'url = "postgresql://user:{password}@host/db"',
        'url = f"postgresql://{user}:{password}@{host}/db"',
        'url = "postgresql://user:%s@host/db"',
        'url = "postgresql://db.example.com:5432/sales"',
        'url = "https://example.com/path?x=1"',
        # NLP special tokens and auth schemes
        'pad_token = "<pad>"\ncls_token = "[CLS]"',
        'auth = "bearer"',
        'max_tokens = "512"',
        'tokenizer = "bert-base-uncased"',
    ],
)
def test_false_positives_are_not_problems(source: str) -> None:
    assert secrets(export(source)) == []


def test_untagged_cells_are_not_scanned() -> None:
    cells = [
        new_code_cell('password = "hunter22"', execution_count=1),
        new_code_cell("x = 1", execution_count=2, metadata={"tags": ["handover"]}),
    ]
    assert export_inference_code(new_notebook(cells=cells)).ok


def test_first_line_quoted_in_messages_is_redacted() -> None:
    result = export('db_password = "hunter22"\n%matplotlib inline')
    assert "hunter22" not in str(result.to_dict()["problems"])
    assert all("hunter22" not in w for w in result.warnings)


def test_cell_with_a_syntax_error_is_still_scanned_for_tokens() -> None:
    result = export(f'KEY = "{AWS_KEY}"\ndef broken(:')
    assert sorted(p.kind for p in result.problems) == ["secret", "syntax-error"]
