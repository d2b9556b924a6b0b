"""Offline checks of ``handover/deploy/``: parsing, and the PromQL metric names used."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

#: PromQL words that are not metric names (functions are recognised by their parenthesis)
_KEYWORDS = frozenset(
    ("by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless")
    + ("offset", "bool", "inf", "nan")
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_DURATIONS = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def parse(files: dict[str, str]) -> dict[str, list[Any]]:
    """Every file's documents (YAML files may hold several; JSON one; Markdown none)."""
    out: dict[str, list[Any]] = {}
    for name, text in files.items():
        if name.endswith(".json"):
            out[name] = [json.loads(text)]
        elif name.endswith((".yaml", ".yml")):
            out[name] = [d for d in yaml.safe_load_all(text) if d is not None]
    return out


def queries(documents: dict[str, list[Any]]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every query, rule and panel."""
    for name, docs in documents.items():
        for doc in docs:
            kind = doc.get("kind") if isinstance(doc, dict) else None
            if kind == "AnalysisTemplate":
                for metric in doc["spec"]["metrics"]:
                    yield f"{name}:{metric['name']}", metric["provider"]["prometheus"]["query"]
            elif kind == "PrometheusRule":
                for group in doc["spec"]["groups"]:
                    for rule in group["rules"]:
                        yield f"{name}:{rule['alert']}", rule["expr"]
            elif name.endswith(".json"):
                for panel in doc["panels"]:
                    for target in panel["targets"]:
                        yield f"{name}:{panel['title']}", target["expr"]


def metric_names(promql: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = promql.replace("{{", "\x00").replace("}}", "\x01")  # Argo's {{args.x}}
    text = _STRINGS.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _DURATIONS.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for match in _NAME.finditer(text):
        word = match.group()
        rest = text[match.end() :].lstrip()
        if word.lower() in _KEYWORDS or rest.startswith("("):
            continue
        if match.start() > 0 and (
            text[match.start() - 1].isdigit() or text[match.start() - 1] == "."
        ):
            continue  # the exponent or unit of a number
        names.add(word)
    return names


def balanced(promql: str) -> bool:
    """Parentheses, braces and brackets nest properly (outside strings)."""
    pairs = {")": "(", "}": "{", "]": "["}
    stack: list[str] = []
    for char in _STRINGS.sub('""', promql):
        if char in "({[":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def exposed_names(exposition: str) -> set[str]:
    """The sample names of a Prometheus text exposition."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
