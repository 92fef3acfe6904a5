"""Mutants of one Python module: one small change at a time, made on the syntax tree and spliced into the text.

Operators (the faults a hurried edit makes): a comparison's boundary or sense flipped (``<``/``<=``,
``==``/``!=``, ``in``/``not in``, ``is``/``is not``), ``and``/``or`` swapped, a ``not`` dropped, an
arithmetic operator swapped, a number bumped by one, ``True``/``False`` swapped, a string changed,
a ``raise`` deleted, a call made for its effect deleted, an attribute or item assignment deleted,
``return x`` made ``return None``, ``break``/``continue`` swapped.

Not mutated, because no test could or should notice: docstrings, type annotations, logging calls,
the text of exception messages (deleting the ``raise`` is the mutant that matters there), and
f-strings. Each mutant is the module's text with one node's span replaced, so every other line,
and so every traceback, stays as it was.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_BINARY_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
}
_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
_DESCRIPTION_WIDTH = 100


@dataclass(frozen=True)
class Mutant:
    """One change to a module: where, what, and the module's whole text with the change made."""

    line: int
    end_line: int
    column: int
    function: str
    operator: str
    original: str
    mutated: str
    context: str
    source: str

    @property
    def key(self) -> str:
        """A name for the mutant that survives edits elsewhere in the file (used for equivalence judgements)."""
        return f"{self.function} | {self.context} | {self.description}"

    @property
    def description(self) -> str:
        """``before`` → ``after``, shortened."""
        return f"`{_short(self.original)}` → `{_short(self.mutated)}`"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _DESCRIPTION_WIDTH else flat[: _DESCRIPTION_WIDTH - 1] + "…"


def mutants_of(source: str) -> list[Mutant]:
    """Every mutant of ``source`` that still compiles and differs from it, in file order."""
    tree = ast.parse(source)
    splicer = _Splicer(source)
    lines = source.splitlines()
    found: dict[str, Mutant] = {}
    for node, replacement, operator, function in _Finder().walk(tree):
        mutated_source = splicer.replace(node, replacement)
        if mutated_source == source:
            continue
        try:
            compile(mutated_source, "<mutant>", "exec")
        except SyntaxError:
            continue
        shown = replacement[1:-1] if replacement.startswith("(") and replacement.endswith(")") else replacement
        mutant = Mutant(node.lineno, node.end_lineno or node.lineno, node.col_offset, function, operator,
                        splicer.segment(node), shown, lines[node.lineno - 1].strip(), mutated_source)
        found.setdefault(mutated_source, mutant)
    return sorted(found.values(), key=lambda m: (m.line, m.column, m.operator))


class _Splicer:
    """Replaces a node's span in the source (ast offsets are UTF-8 byte columns)."""

    def __init__(self, source: str) -> None:
        self._bytes = source.encode("utf-8")
        self._line_starts = [0]
        for index, byte in enumerate(self._bytes):
            if byte == 0x0A:
                self._line_starts.append(index + 1)

    def _span(self, node: ast.AST) -> tuple[int, int]:
        start = self._line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = self._line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        """The node's text as written."""
        start, end = self._span(node)
        return self._bytes[start:end].decode("utf-8")

    def replace(self, node: ast.AST, replacement: str) -> str:
        """The whole source with the node's text replaced."""
        start, end = self._span(node)
        return (self._bytes[:start] + replacement.encode("utf-8") + self._bytes[end:]).decode("utf-8")


def _expression(node: ast.expr) -> str:
    return f"({ast.unparse(node)})"


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def _is_log_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    receiver = ast.unparse(node.func.value).lower()
    return node.func.attr in _LOG_METHODS and ("log" in receiver or receiver == "warnings")


class _Finder:
    """Walks the tree and yields (node, replacement text, operator, enclosing function) for each mutation."""

    def walk(self, tree: ast.Module) -> Iterator[tuple[ast.AST, str, str, str]]:
        """All mutations of the module, outermost first."""
        yield from self._body(tree.body, "<module>")

    def _body(self, body: list[ast.stmt], function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        for index, statement in enumerate(body):
            if index == 0 and _is_docstring(statement):
                continue
            yield from self._statement(statement, function)

    def _statement(self, node: ast.stmt, function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Pass)):
            return
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Expr) and _is_log_call(node.value):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = node.name if function == "<module>" else f"{function}.{node.name}"
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                yield from self._expressions(default, function)
            yield from self._body(node.body, inner)
            return
        if isinstance(node, ast.ClassDef):
            yield from self._body(node.body, node.name if function == "<module>" else f"{function}.{node.name}")
            return
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets):
            return
        yield from self._deletions(node, function)
        if isinstance(node, ast.Raise):
            return  # the message's words are not behaviour; deleting the raise is the mutant that matters
        for field, value in ast.iter_fields(node):
            if field in ("annotation", "returns", "type_comment", "targets", "target"):
                continue
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    yield from self._body_no_docstring(value, function)
                else:
                    for item in value:
                        if isinstance(item, ast.excepthandler):
                            yield from self._body_no_docstring(item.body, function)
                        elif isinstance(item, ast.withitem):
                            yield from self._expressions(item.context_expr, function)
                        elif isinstance(item, ast.match_case):
                            yield from self._body_no_docstring(item.body, function)
                        elif isinstance(item, ast.expr):
                            yield from self._expressions(item, function)
            elif isinstance(value, ast.expr):
                yield from self._expressions(value, function)

    def _body_no_docstring(self, body: list[ast.stmt], function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        for statement in body:
            yield from self._statement(statement, function)

    def _deletions(self, node: ast.stmt, function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        if isinstance(node, ast.Raise):
            yield node, "pass", "delete raise", function
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            yield node, "pass", "delete call", function
        elif isinstance(node, (ast.Assign, ast.AugAssign)) and all(
                isinstance(target, (ast.Attribute, ast.Subscript))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            yield node, "pass", "delete assignment", function
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            yield node, "return None", "return None", function
        elif isinstance(node, ast.Break):
            yield node, "continue", "break→continue", function
        elif isinstance(node, ast.Continue):
            yield node, "break", "continue→break", function
        if isinstance(node, ast.AugAssign) and type(node.op) in _BINARY_SWAPS:
            swapped = copy.deepcopy(node)
            swapped.op = _BINARY_SWAPS[type(node.op)]()
            yield node, ast.unparse(swapped), "arithmetic", function

    def _expressions(self, root: ast.expr, function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        stack: list[ast.AST] = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.JoinedStr, ast.Lambda)) or _is_log_call(node):
                continue
            yield from self._expression_mutations(node, function)
            children = [child for child in ast.iter_child_nodes(node)]
            stack.extend(reversed(children))

    def _expression_mutations(self, node: ast.AST, function: str) -> Iterator[tuple[ast.AST, str, str, str]]:
        if isinstance(node, ast.Compare):
            for index, op in enumerate(node.ops):
                if type(op) in _COMPARE_SWAPS:
                    mutated = copy.deepcopy(node)
                    mutated.ops[index] = _COMPARE_SWAPS[type(op)]()
                    yield node, _expression(mutated), "comparison", function
        elif isinstance(node, ast.BoolOp):
            mutated = copy.deepcopy(node)
            mutated.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield node, _expression(mutated), "and/or", function
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, _expression(node.operand), "drop not", function
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            yield node, _expression(node.operand), "drop minus", function
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY_SWAPS and not _is_string_format(node):
            mutated = copy.deepcopy(node)
            mutated.op = _BINARY_SWAPS[type(node.op)]()
            yield node, _expression(mutated), "arithmetic", function
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                yield node, f"({not value})", "boolean", function
            elif isinstance(value, (int, float)):
                yield node, f"({value + 1!r})", "number", function
            elif isinstance(value, str):
                yield node, repr(f"XX{value}XX"), "string", function


def _is_string_format(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
