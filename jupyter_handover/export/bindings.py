"""The names a piece of code binds: targets, imports, parameters, a function body's locals.

Pure and private: :mod:`jupyter_handover.export.dataflow` is the only caller.
"""

from __future__ import annotations

import ast

__all__ = ["BindingCollector", "collect", "import_binding", "parameters", "target_names"]


def target_names(node: ast.AST) -> set[str]:
    """Every name in an assignment target (``a, (b, c)`` -> a, b, c)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def import_binding(alias: ast.alias) -> str:
    """The name an import binds: ``import a.b`` binds ``a``; ``import a as b`` binds ``b``."""
    return alias.asname or alias.name.split(".")[0]


class BindingCollector(ast.NodeVisitor):
    """Names a function body binds, without descending into nested scopes."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.global_decl: set[str] = set()
        self.nonlocal_decl: set[str] = set()
        self._in_comprehension = 0

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load) and not self._in_comprehension:
            self.bound.add(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.bound |= target_names(node.target)  # binds in the enclosing function
        self.visit(node.value)

    def _comprehension(self, node: ast.AST) -> None:
        self._in_comprehension += 1
        self.generic_visit(node)
        self._in_comprehension -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.bound.add(node.name)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_Import(self, node: ast.Import) -> None:
        self.bound |= {import_binding(a) for a in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.bound |= {import_binding(a) for a in node.names if a.name != "*"}

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bound.add(node.rest)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.global_decl |= set(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocal_decl |= set(node.names)


def collect(nodes: list[ast.AST]) -> BindingCollector:
    """The bindings of ``nodes`` (a function body), nested scopes excluded."""
    collector = BindingCollector()
    for node in nodes:
        collector.visit(node)
    return collector


def parameters(args: ast.arguments) -> set[str]:
    """Every parameter name of a signature."""
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in every}
