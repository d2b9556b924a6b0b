"""Token kinds found whatever name holds them, and ordinary notebook code left alone."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_handover.export.cells import ExportResult, export_inference_code

# Built from parts so that this file itself never holds a literal credential.
OPENAI_PROJECT = "sk-proj-" + "4fJk2LmN8pQr5sTv7wXy9zAb3cDe6fGh1iJk0lMn"
OPENAI_LEGACY = "sk-" + "Xc83kLmQ2vN7pR4tY9wB1zD6fH0jK5sA8eG3uI7oP2qW4rT6"
HF = "hf_" + "QmZx7Lp2Vb9Nc4Rt8Ws1Yd6Kf3Hg5Jq0Ue"
DATABRICKS = "dapi" + "8c2f4e6a0b1d3f5e7a9c2b4d6f8e0a1c"
BEARER = "Zm9vYmFyOnNlY3JldC" + "10b2tlbi12YWx1ZQ"
AZURE_KEY = "Kq7vZ2xN9pL4mR8tW1yB6cF3hJ5dG0sAeU" + "Xi+Qo/Tn7Vb2Mk9Lz4Pr8Sw1Hy6Gc3Fd5Ja0Ek=="
AZURE = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE_KEY}"


def export(source: str) -> ExportResult:
    cell = new_code_cell(source, execution_count=4, metadata={"tags": ["handover"]})
    return export_inference_code(new_notebook(cells=[cell]))


def secrets(result: ExportResult) -> list[str]:
    return [str(p) for p in result.problems if p.kind == "secret"]


@pytest.mark.parametrize(
    ("source", "secret", "what", "env_var"),
    [
        (
            f'client = OpenAI(api_base="x", k="{OPENAI_PROJECT}")',
            OPENAI_PROJECT,
            "OpenAI",
            "OPENAI_API_KEY",
        ),
        (f'openai.api_base_value = "{OPENAI_LEGACY}"', OPENAI_LEGACY, "OpenAI", "OPENAI_API_KEY"),
        (f'login("{HF}")', HF, "Hugging Face", "HF_TOKEN"),
        (f'host_id = "{DATABRICKS}"', DATABRICKS, "Databricks", "DATABRICKS_TOKEN"),
        (f'headers = {{"Authorization": "Bearer {BEARER}"}}', BEARER, "bearer", "API_TOKEN"),
        (f"# curl -H 'Authorization: Bearer {BEARER}' https://x", BEARER, "bearer", "API_TOKEN"),
        (f'conn_str = "{AZURE}"', AZURE_KEY, "Azure", "AZURE_STORAGE_CONNECTION_STRING"),
    ],
)
def test_token_kinds_are_found_under_any_name(
    source: str, secret: str, what: str, env_var: str
) -> None:
    found = secrets(export(source))
    assert len(found) == 1, found
    assert what in found[0] and f'os.environ["{env_var}"]' in found[0]
    assert secret[4:10] not in found[0]


# Ordinary notebook code: tokenizers, auth method names, hashes, UUIDs, sklearn and pandas.
CORPUS = [
    'unk_token = "UNK"',
    'mask_token = "MASK"',
    'pad_token, bos_token, eos_token = "<pad>", "<s>", "</s>"',
    'sep_token = "SEP"\ncls_token = "CLS"',
    'tokenizer.add_special_tokens({"pad_token": "[PAD]", "unk_token": "[UNK]"})',
    'special = {"mask_token": "MASK", "oov_token": "OOV"}',
    'tok = AutoTokenizer.from_pretrained("bert-base-uncased", unk_token="UNK")',
    'model_name = "sentence-transformers/all-MiniLM-L6-v2"',
    'ckpt = "distilbert-base-uncased-finetuned-sst-2-english"',
    'vec = CountVectorizer(token_pattern=r"(?u)\\b\\w\\w+\\b", max_features=5000)',
    "tokens = [t.lower() for t in text.split()]\nmax_tokens = 512",
    'df = df.rename(columns={"token": "word", "count": "n"})',
    'df = df.astype({"token": "string", "token_id": "int64"})',
    'counts = df.groupby("token").agg({"freq": "sum"})',
    'auth = "kerberos"',
    'auth = "ntlm"\nauth_method = "oauth2"\nauth_type = "service_principal"',
    'conn = hive.connect(host="h", auth="KERBEROS", kerberos_service_name="hive")',
    'engine = connect(host="db", auth="SCRAM-SHA-256")',
    'session.auth = ("user", os.environ["PASSWORD"])',
    'credentials = "service_account.json"',
    'private_key = "~/.ssh/id_rsa"',
    'api_key = os.environ["OPENAI_API_KEY"]\ntoken = os.getenv("HF_TOKEN")',
    'api_key_env = "OPENAI_API_KEY"\nhf_token = os.environ.get("HF_TOKEN", "")',
    'DATA_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    'checksum = hashlib.md5(data).hexdigest()\nexpected = "d41d8cd98f00b204e9800998ecf8427e"',
    "# run 123e4567-e89b-12d3-a456-426614174000 produced the best model",
    'run_id = "0123456789abcdef0123456789abcdef"',
    'model_uri = "runs:/0123456789abcdef0123456789abcdef/model"',
    'commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
    "clf = RandomForestClassifier(n_estimators=100, random_state=42, max_depth=8)",
    "X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y)",
    'pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.1))])',
    'df = pd.read_csv("data/train_2023-01-01.csv", parse_dates=["ts"])',
    'plt.savefig("figures/roc_curve_v2.png", dpi=150)',
    'url = "https://huggingface.co/bert-base-uncased/resolve/main/config.json"',
    'COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c"]',
    'query = "SELECT user_id, password_reset_count FROM users WHERE active = 1"',
    'pattern = re.compile(r"^[A-Za-z0-9+/]{40}$")',
    'ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"',
    'secret_santa_pairs = {"alice": "bob"}',
    'password_policy = "min-length-12"',
    'token_type = "Bearer"\nheaders = {"Authorization": f"Bearer {token}"}',
    'aws_region = "eu-west-1"\nbucket = "s3://my-bucket/data/2024/"',
    'engine = create_engine("postgresql://analyst@localhost:5432/warehouse")',
    "f1 = f1_score(y_te, pred, average='macro')  # 50% better!",
]


@pytest.mark.parametrize("source", CORPUS)
def test_ordinary_notebook_code_has_no_false_positive(source: str) -> None:
    assert secrets(export(source)) == []
