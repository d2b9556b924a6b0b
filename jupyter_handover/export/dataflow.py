"""Static analysis of notebook cells: the names they bind and the names they need.

Pure and private: :mod:`jupyter_handover.export.cells` is the only caller. Cells reach it as
plain Python (:mod:`jupyter_handover.export.ipython_syntax` has dropped the IPython syntax).

:func:`analyse` follows Python's scoping rules closely enough to never raise a false alarm
on ordinary notebook code:

* module-level code (and class bodies, comprehensions, default values and decorators at
  module level) runs at import time, so a name it loads must be bound *earlier* in the
  exported code;
* a function body runs later, when ``handover_predict`` calls it, so a global it loads only
  has to be bound *somewhere* at module level;
* where the order cannot be known statically (loops, ``global`` assignments inside
  functions) the analysis is lenient: an undetected problem is caught by the clean-venv
  replay, a false problem blocks a user for nothing.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from jupyter_handover.export.bindings import collect, import_binding, parameters, target_names

#: Names every plain ``python`` process provides. IPython injects ``display``,
#: ``get_ipython`` and ``__IPYTHON__`` into :mod:`builtins` inside a kernel; inference code
#: runs without IPython, so they are removed even when this runs inside a kernel.
IPYTHON_ONLY_BUILTINS = frozenset({"display", "get_ipython", "__IPYTHON__", "dreload"})
BUILTIN_NAMES = (frozenset(dir(builtins)) | {"__name__", "__file__"}) - IPYTHON_ONLY_BUILTINS


@dataclass
class Use:
    """One load of a name that the code itself does not bind."""

    name: str
    cell: int  # position of the cell in the analysed sequence
    line: int  # 1-based line inside that cell
    immediate: bool  # runs at import time (module level), not later inside a function


@dataclass
class Analysis:
    """What a sequence of cells binds at module level and which names it needs."""

    bound: set[str] = field(default_factory=set)
    bound_by_cell: list[set[str]] = field(default_factory=list)
    #: module-level bindings that are plain assignments (not def/class/import), per cell
    assigned_by_cell: list[set[str]] = field(default_factory=list)
    #: immediate loads of names not bound before the load
    early: list[Use] = field(default_factory=list)
    #: deferred loads (inside functions) of globals; checked against the final ``bound``
    deferred: list[Use] = field(default_factory=list)
    #: every name loaded anywhere (for warnings about rebinding)
    loaded: set[str] = field(default_factory=set)
    star_imports: list[tuple[int, int, str]] = field(default_factory=list)
    get_ipython_calls: list[tuple[int, int]] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    #: top-level ``def`` statements: name -> (required positional, positional, has *args)
    functions: dict[str, tuple[int, int, bool]] = field(default_factory=dict)

    def missing(self) -> list[Use]:
        """Uses of names that are bound nowhere or only after an import-time use, in order."""
        out = [u for u in self.early if u.name not in BUILTIN_NAMES]
        out += [u for u in self.deferred if u.name not in self.bound | BUILTIN_NAMES]
        return sorted(out, key=lambda u: (u.cell, u.line))


class _Scope:
    def __init__(self, kind: str, parent: _Scope | None, local: set[str] | None = None) -> None:
        self.kind = kind  # "module", "function", "class" or "comprehension"
        self.parent = parent
        self.local: set[str] = set(local or ())
        self.global_decl: set[str] = set()
        self.nonlocal_decl: set[str] = set()


class _Analyzer(ast.NodeVisitor):
    """Walks cells in evaluation order and records bindings and unresolved loads."""

    def __init__(self, result: Analysis) -> None:
        self.result = result
        self.module = _Scope("module", None)
        self.scope = self.module
        self.cell = 0
        self.future_annotations = False

    # -- driving -----------------------------------------------------------------------

    def run_cell(self, index: int, tree: ast.Module) -> None:
        self.cell = index
        before = set(self.result.bound)
        self.result.bound_by_cell.append(set())
        self.result.assigned_by_cell.append(set())
        for stmt in tree.body:
            self.visit(stmt)
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    self.result.assigned_by_cell[-1] |= target_names(target)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = stmt.args
                positional = len(args.posonlyargs) + len(args.args)
                required = positional - len(args.defaults)
                self.result.functions[stmt.name] = (required, positional, args.vararg is not None)
        self.result.bound_by_cell[-1] |= self.result.bound - before

    # -- scopes ------------------------------------------------------------------------

    def _bind(self, name: str) -> None:
        scope = self.scope
        if scope.kind == "comprehension":  # only walrus reaches here: enclosing real scope
            while scope.kind == "comprehension" and scope.parent is not None:
                scope = scope.parent
        if scope.kind == "module" or name in scope.global_decl:
            self.result.bound.add(name)
            self.result.bound_by_cell[-1].add(name)
        else:
            scope.local.add(name)

    def _load(self, name: str, line: int) -> None:
        self.result.loaded.add(name)
        if name == "get_ipython":
            self.result.get_ipython_calls.append((self.cell, line))
            return
        scope: _Scope | None = self.scope
        deferred = False
        first = True
        while scope is not None and scope.kind != "module":
            if name in scope.global_decl:
                break
            visible = first or scope.kind != "class"  # class bodies do not enclose
            if visible and (name in scope.local or name in scope.nonlocal_decl):
                return
            deferred = deferred or scope.kind == "function"
            first = False
            scope = scope.parent
        if deferred:
            self.result.deferred.append(Use(name, self.cell, line, immediate=False))
        elif name not in self.result.bound:
            self.result.early.append(Use(name, self.cell, line, immediate=True))

    def _in_scope(self, scope: _Scope, nodes: list[ast.AST]) -> None:
        outer, self.scope = self.scope, scope
        for node in nodes:
            self.visit(node)
        self.scope = outer

    # -- names -------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id, node.lineno)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._load(node.target.id, node.target.lineno)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if not self.future_annotations and self.scope.kind != "function":
            self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.result.imports.add(alias.name.split(".")[0])
            self._bind(import_binding(alias))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module and node.module != "__future__":
            self.result.imports.add(node.module.split(".")[0])
        for alias in node.names:
            if alias.name == "*":
                self.result.star_imports.append((self.cell, node.lineno, node.module or "."))
            else:
                self._bind(import_binding(alias))

    def visit_Call(self, node: ast.Call) -> None:
        # importlib.import_module("x") / __import__("x") with a literal name
        func = node.func
        dynamic = (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
            isinstance(func, ast.Attribute) and func.attr == "import_module"
        )
        if isinstance(func, ast.Attribute) and func.attr == "get_ipython":  # IPython.get_ipython()
            self.result.get_ipython_calls.append((self.cell, node.lineno))
        if dynamic and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str) and value and not value.startswith("."):
                self.result.imports.add(value.split(".")[0])
        self.generic_visit(node)

    # -- statements with an evaluation order of their own ----------------------------

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        if self.scope.kind != "function":
            # a later iteration sees what an earlier one bound: be lenient inside loops
            for name in collect(list(node.body)).bound:
                self._bind(name)
        if isinstance(node, ast.While):
            self.visit(node.test)
        else:
            self.visit(node.iter)
            self.visit(node.target)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_For = visit_AsyncFor = visit_While = _loop

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind(node.rest)

    # -- new scopes --------------------------------------------------------------------

    def _annotations(self, args: ast.arguments, returns: ast.expr | None) -> list[ast.AST]:
        if self.future_annotations:
            return []
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        out: list[ast.AST] = [a.annotation for a in every if a is not None and a.annotation]
        return out + ([returns] if returns is not None else [])

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        evaluated_now: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d)]
        if not isinstance(node, ast.Lambda):
            evaluated_now = [*node.decorator_list, *evaluated_now]
            evaluated_now += self._annotations(args, node.returns)
        for expr in evaluated_now:
            self.visit(expr)
        body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
        collected = collect(body)
        scope = _Scope("function", self.scope)
        scope.global_decl = collected.global_decl
        scope.nonlocal_decl = collected.nonlocal_decl
        declared = scope.global_decl | scope.nonlocal_decl
        scope.local = (collected.bound | parameters(args)) - declared
        for param in getattr(node, "type_params", []):
            scope.local.add(param.name)
        if not isinstance(node, ast.Lambda):
            self._bind(node.name)
        self._in_scope(scope, body)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        scope = _Scope("class", self.scope)
        scope.local |= {p.name for p in getattr(node, "type_params", [])}
        self._in_scope(scope, list(node.body))
        self._bind(node.name)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        outer, self.scope = self.scope, _Scope("comprehension", self.scope)
        for i, gen in enumerate(generators):
            if i:
                self.visit(gen.iter)
            self.scope.local |= target_names(gen.target)
            for condition in gen.ifs:
                self.visit(condition)
        parts: list[ast.AST] = (
            [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        )
        for part in parts:
            self.visit(part)
        self.scope = outer

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def analyse(cells: list[ast.Module]) -> Analysis:
    """Analyse ``cells`` as one module executed top to bottom, each cell after the previous."""
    result = Analysis()
    analyzer = _Analyzer(result)
    # the export hoists __future__ imports to the top of the module: they apply to every cell
    analyzer.future_annotations = any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(a.name == "annotations" for a in stmt.names)
        for tree in cells
        for stmt in tree.body
    )
    for index, tree in enumerate(cells):
        analyzer.run_cell(index, tree)
    return result


def module_bindings(tree: ast.Module) -> set[str]:
    """Every name ``tree`` binds at module level (also through ``global`` in functions)."""
    return analyse([tree]).bound
