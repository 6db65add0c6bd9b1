"""String constants read out of Python source with `ast`, never by running it.

A constant is taken only when it is a literal string (plain, triple-quoted, concatenated,
`.strip()`-ed or dedented); anything computed maps to a DialerError saying why.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

from dialer.errors import DialerError, Location


class _NotLiteral(Exception):
    """A constant whose value only exists when the module runs."""


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.JoinedStr):
        return "an f-string with {...} fields"
    if isinstance(node, ast.Name):
        return f"the name {node.id}, not a string constant defined above it"
    if isinstance(node, ast.Call):
        func = node.func
        name = _dotted(func) or (f".{func.attr}" if isinstance(func, ast.Attribute) else None)
        return f"a call to {name}()" if name else "a function call"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "a %-formatted string"
    if isinstance(node, ast.Constant):
        kind = type(node.value).__name__
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a string"
    return f"an expression ({type(node).__name__})"


def _literal(node: ast.AST, known: Mapping[str, str]) -> str:
    """The string a constant's expression evaluates to, worked out without running anything."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values)  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, known) + _literal(node.right, known)
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("strip", "lstrip", "rstrip"):
            chars = _literal(node.args[0], known) if node.args else None
            return getattr(_literal(func.value, known), func.attr)(chars)
        name = _dotted(func)
        if node.args and name in ("dedent", "textwrap.dedent"):
            return textwrap.dedent(_literal(node.args[0], known))
        if node.args and name in ("cleandoc", "inspect.cleandoc"):
            import inspect

            return inspect.cleandoc(_literal(node.args[0], known))
    raise _NotLiteral(_describe(node))


def _assignments(stmt: ast.stmt) -> Iterator[tuple[str, ast.AST | None, ast.AST]]:
    """(name, value expression or None when it can not be paired, the node) per assigned name."""
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                yield target.id, stmt.value, stmt
            elif isinstance(target, ast.Tuple | ast.List):
                values = stmt.value.elts if isinstance(stmt.value, ast.Tuple | ast.List) else None
                for i, elt in enumerate(target.elts):
                    if isinstance(elt, ast.Name):
                        paired = values[i] if values and len(values) == len(target.elts) else None
                        yield elt.id, paired, stmt
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        yield stmt.target.id, stmt.value, stmt
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        op = ast.BinOp(left=ast.Name(stmt.target.id), op=stmt.op, right=stmt.value)
        yield stmt.target.id, op, stmt


def read_constants(path: Path, shown: str) -> dict[str, str | DialerError]:
    """Top-level string constants of a Python file, parsed and never run. A constant whose last
    assignment is not a literal string maps to the error saying why."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DialerError(f"can not read prompt module: {exc.strerror}", Location(shown)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DialerError("prompt module is not UTF-8", Location(shown, line)) from None
    try:
        tree = ast.parse(text, filename=shown)
    except SyntaxError as exc:
        raise DialerError(
            f"syntax error: {exc.msg}", Location(shown, exc.lineno, exc.offset)
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise DialerError(f"can not parse prompt module: {exc}", Location(shown)) from None
    values: dict[str, str | DialerError] = {}
    known: dict[str, str] = {}
    for stmt in tree.body:
        for name, value, node in _assignments(stmt):
            try:
                if value is None:
                    raise _NotLiteral("an unpacked value")
                known[name] = values[name] = _literal(value, known)
            except _NotLiteral as exc:
                known.pop(name, None)
                values[name] = DialerError(
                    f"{name} is {exc}: computed when the module runs, so it is not imported",
                    Location(shown, node.lineno, node.col_offset + 1),
                    "write the text out as a plain string; [Prospect Name]-style placeholders "
                    "and {{ lead.column }} work in the imported prompt",
                )
            except RecursionError:
                known.pop(name, None)
                values[name] = DialerError(
                    f"{name} is nested too deeply to read", Location(shown, node.lineno)
                )
    return values
