"""The token detectors behind :mod:`.secrets`: detect-secrets' plugins, and the kinds it lacks.

Private, and imported lazily by :func:`jupyter_handover.export.secrets.find_secrets`
(importing detect-secrets costs about 0.25 s). The plugins are used as a library: their
``analyze_string`` on each line of a cell, with detect-secrets' own heuristic filters, and
without its global settings (``transient_settings`` rewrites process-wide state, which the
server extension's worker threads would race on). See docs/decisions.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from detect_secrets.filters import heuristic
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from jupyter_handover.export.secret_names import is_placeholder

__all__ = ["ENTROPY_LIMIT", "Hit", "Kind", "scan_line"]

#: detect-secrets' default limit for base64-like strings; hex strings are not checked at all
#: (data hashes, run ids and commit ids are ordinary in notebooks).
ENTROPY_LIMIT = 4.5
_ENTROPY_MIN_LENGTH = 20


@dataclass(frozen=True)
class Kind:
    """What a detected value is, and what to suggest instead."""

    what: str  #: "an AWS access key"
    env_var: str  #: "AWS_ACCESS_KEY_ID"
    shown: int = 0  #: leading characters that are a public prefix (at most 4 are shown)


@dataclass(frozen=True)
class Hit:
    """One detected value on a line."""

    kind: Kind
    value: str


# -- the kinds detect-secrets does not know (as detect-secrets plugins) --------------------


class OpenAIKeyDetector(RegexBasedDetector):
    """OpenAI keys without the legacy ``T3BlbkFJ`` marker (``sk-proj-...``, ``sk-...``)."""

    secret_type = "OpenAI API key"
    denylist = [re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?(?=[\w-]*\d)[\w-]{20,}")]


class HuggingFaceTokenDetector(RegexBasedDetector):
    secret_type = "Hugging Face token"
    denylist = [re.compile(r"(?<![\w-])hf_(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{30,}")]


class DatabricksTokenDetector(RegexBasedDetector):
    secret_type = "Databricks token"
    denylist = [re.compile(r"(?<![\w-])dapi[0-9a-f]{32}(?:-\d+)?(?![\w-])")]


class BearerTokenDetector(RegexBasedDetector):
    """``Authorization: Bearer <token>`` (in code, a header dict or a comment)."""

    secret_type = "Bearer token"
    denylist = [
        re.compile(r"\b(?:[Bb]earer|[Tt]oken)\s+([A-Za-z0-9._~+/=-]{16,})"),
        re.compile(r"Authorization[\"']?\s*[:=,]\s*[\"']?Basic\s+([A-Za-z0-9+/]{8,}={0,2})"),
    ]


class AzureKeyDetector(RegexBasedDetector):
    """Azure connection strings: storage ``AccountKey=``, Service Bus ``SharedAccessKey=``."""

    secret_type = "Azure key"
    denylist = [re.compile(r"(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,}={0,2})")]


class GoogleApiKeyDetector(RegexBasedDetector):
    secret_type = "Google API key"
    denylist = [re.compile(r"\bAIza[0-9A-Za-z_-]{35}")]


class GitHubFineGrainedTokenDetector(RegexBasedDetector):
    secret_type = "GitHub fine-grained token"
    denylist = [re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}")]


_AWS_ID = re.compile(r"^(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)")
_KINDS: dict[type[BasePlugin], Kind] = {
    AWSKeyDetector: Kind("an AWS secret access key", "AWS_SECRET_ACCESS_KEY"),
    ArtifactoryDetector: Kind("an Artifactory token", "ARTIFACTORY_TOKEN"),
    AzureKeyDetector: Kind("an Azure account key", "AZURE_STORAGE_CONNECTION_STRING"),
    BasicAuthDetector: Kind("a connection string with a password", "DATABASE_URL"),
    BearerTokenDetector: Kind("a bearer token", "API_TOKEN"),
    CloudantDetector: Kind("a Cloudant credential", "CLOUDANT_PASSWORD"),
    DatabricksTokenDetector: Kind("a Databricks token", "DATABRICKS_TOKEN", 4),
    DiscordBotTokenDetector: Kind("a Discord bot token", "DISCORD_TOKEN"),
    GitHubFineGrainedTokenDetector: Kind("a GitHub token", "GITHUB_TOKEN", 4),
    GitHubTokenDetector: Kind("a GitHub token", "GITHUB_TOKEN", 4),
    GitLabTokenDetector: Kind("a GitLab token", "GITLAB_TOKEN", 4),
    GoogleApiKeyDetector: Kind("a Google API key", "GOOGLE_API_KEY", 4),
    HuggingFaceTokenDetector: Kind("a Hugging Face token", "HF_TOKEN", 3),
    IbmCloudIamDetector: Kind("an IBM Cloud API key", "IBM_API_KEY"),
    IbmCosHmacDetector: Kind("an IBM COS HMAC secret", "IBM_COS_SECRET_ACCESS_KEY"),
    JwtTokenDetector: Kind("a JSON Web Token", "API_TOKEN", 3),
    MailchimpDetector: Kind("a Mailchimp API key", "MAILCHIMP_API_KEY"),
    NpmDetector: Kind("an npm token", "NPM_TOKEN"),
    OpenAIDetector: Kind("an OpenAI API key", "OPENAI_API_KEY", 3),
    OpenAIKeyDetector: Kind("an OpenAI API key", "OPENAI_API_KEY", 3),
    PypiTokenDetector: Kind("a PyPI token", "PYPI_TOKEN", 4),
    SendGridDetector: Kind("a SendGrid API key", "SENDGRID_API_KEY", 3),
    SlackDetector: Kind("a Slack token", "SLACK_TOKEN", 4),
    SoftlayerDetector: Kind("a SoftLayer API key", "SOFTLAYER_API_KEY"),
    SquareOAuthDetector: Kind("a Square OAuth secret", "SQUARE_TOKEN"),
    StripeDetector: Kind("a Stripe secret key", "STRIPE_API_KEY", 3),
    TelegramBotTokenDetector: Kind("a Telegram bot token", "TELEGRAM_BOT_TOKEN"),
    TwilioKeyDetector: Kind("a Twilio key", "TWILIO_AUTH_TOKEN"),
}
_AWS_ACCESS_KEY_ID = Kind("an AWS access key", "AWS_ACCESS_KEY_ID", 4)
HIGH_ENTROPY = Kind("a high-entropy string (it looks like a key)", "API_KEY")


@cache
def _detectors() -> tuple[BasePlugin, ...]:
    return tuple(cls() for cls in _KINDS)


@cache
def _entropy() -> Base64HighEntropyString:
    return Base64HighEntropyString(limit=ENTROPY_LIMIT)


def _whole_token(line: str, value: str) -> str:
    """A plugin that captures only a token's prefix (GitHub's ``(ghp|gho)_...``): the token."""
    at = line.find(value)
    if len(value) >= 8 or at < 0 or line[at + len(value) : at + len(value) + 1] not in {"_", "-"}:
        return value
    match = re.compile(r"[\w-]+").match(line, at)
    return match.group() if match else value


def _kind(plugin: BasePlugin, value: str) -> Kind:
    if isinstance(plugin, AWSKeyDetector) and _AWS_ID.match(value):
        return _AWS_ACCESS_KEY_ID
    return _KINDS[type(plugin)]


def _high_entropy(line: str) -> Iterator[str]:
    plugin = _entropy()
    for value in plugin.analyze_string(line):
        if (
            len(value) >= _ENTROPY_MIN_LENGTH
            and plugin.calculate_shannon_entropy(value) > ENTROPY_LIMIT
            and not heuristic.is_sequential_string(value)
            and not heuristic.is_potential_uuid(value)
            and not heuristic.is_likely_id_string(value, line)
            and not heuristic.is_templated_secret(value)
        ):
            yield value


def scan_line(line: str) -> list[Hit]:
    """The credential-looking values of one line, template text excluded."""
    hits: list[Hit] = []
    for plugin in _detectors():
        for found in plugin.analyze_string(line):
            value = _whole_token(line, found)
            if not is_placeholder(value):
                hits.append(Hit(_kind(plugin, value), value))
    known = {h.value for h in hits}
    hits += [Hit(HIGH_ENTROPY, v) for v in _high_entropy(line) if not _inside(v, known)]
    return hits


def _inside(value: str, known: set[str]) -> bool:
    return any(value in k or k in value for k in known)
