"""Code versions: a hash of what an asset computes, blind to formatting and comments.

The hash covers the function's normalized syntax tree (no docstrings, no comments, no
positions, no decorators) plus its declaration (partitions, dependencies and their
mappings, format, schema). An explicit ``code_version=`` replaces the function part.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable
from typing import Any

from partita.errors import DefinitionError


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    rest = body[1:] if is_doc else body
    return rest or [ast.Pass()]


class _Normalizer(ast.NodeTransformer):
    def _visit_def(self, node: Any) -> Any:
        node.decorator_list = []
        node.body = _strip_docstring(node.body)
        self.generic_visit(node)
        return node

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def
    visit_ClassDef = _visit_def


def function_fingerprint(fn: Callable[..., Any]) -> str:
    """A hash of ``fn``'s normalized syntax tree."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return _bytecode_fingerprint(fn)
    normalized = _Normalizer().visit(tree)
    dump = ast.dump(normalized, annotate_fields=False, include_attributes=False)
    return hashlib.blake2b(dump.encode(), digest_size=8).hexdigest()


def _bytecode_fingerprint(fn: Callable[..., Any]) -> str:
    """Fallback when the source is not available (e.g. defined in a REPL)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        raise DefinitionError(
            f"cannot read the code of {getattr(fn, '__qualname__', fn)!r} to version it; "
            "pass code_version= to @asset"
        )
    doc = fn.__doc__
    consts = [repr(c) for c in code.co_consts if not (doc is not None and c == doc)]
    blob = repr((code.co_code, code.co_names, consts))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def code_version(function_part: str, declaration: dict[str, Any]) -> str:
    """Combine the function's fingerprint (or explicit version) with its declaration."""
    blob = json.dumps({"code": function_part, "declaration": declaration}, sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def describe_schema(schema: Any) -> str | None:
    """A stable text form of a declared schema (pydantic model or pyarrow schema)."""
    if schema is None:
        return None
    if hasattr(schema, "model_json_schema"):
        return json.dumps(schema.model_json_schema(), sort_keys=True)
    return str(schema)
