"""Keep model text from running as code in reasoning-gym's scorers.

Shipped into the scoring sandbox as source (see `ponder.tasks.rg_score`): standard library only.

Several rg scorers evaluate the answer: `eval` (n_queens, spiral_matrix, binary_matrix,
string_insertion) or sympy's `parse_expr`, itself an `eval` of rewritten text (countdown,
puzzle24, the integration and polynomial tasks). An answer that runs code there controls the
scoring child and could write its own score. Two guards, both applied by the scoring server
before rg sees the answer, so no answer can change its own verdict:

- `EVAL_KIND` names the datasets whose scorers must hand the answer to sympy. Their answers
  must pass a grammar checked on Python's AST (`answer_allowed`): "arith" is numbers,
  `+ - * /`, unary signs and parentheses; "sympy" adds `**`, `^`, names (variables) and calls
  to a fixed list of math functions. No strings, attributes, subscripts, keywords or other calls,
  so sympy's rewrite can only build numbers, symbols and those functions.
- Every other dataset is scored with `eval` replaced by `safe_eval` (literals, containers and
  arithmetic, interpreted from the AST; nothing is executed) and `exec` refused, so a scorer
  that evals an answer (or a scorer we did not know evals) gets values, never code.
"""

from __future__ import annotations

import ast
import builtins
import operator
import re

EVAL_KIND = {
    "countdown": "arith",
    "puzzle24": "arith",
    "simple_integration": "sympy",
    "intermediate_integration": "sympy",
    "polynomial_multiplication": "sympy",
}
MAX_ANSWER_CHARS = 50_000  # polynomial_multiplication's level-5 answers run to ~10,000
SYMPY_FUNCS = frozenset(
    "sin cos tan cot sec csc asin acos atan acot sinh cosh tanh asinh acosh atanh "
    "exp log ln sqrt cbrt Abs abs sign factorial gamma erf".split()
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
_OPS = {
    "arith": (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.UAdd, ast.USub),
    "sympy": (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.BitXor, ast.UAdd, ast.USub),
}


def _allowed(tree: ast.Expression, kind: str) -> bool:
    """Every node of the tree is allowed (a flat walk: long sums nest too deep to recurse)."""
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.operator, ast.unaryop)):
            ok = isinstance(node, _OPS[kind])
        elif isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load)):
            ok = True
        elif isinstance(node, ast.Constant):
            ok = type(node.value) is int or (kind == "sympy" and type(node.value) is float)
        elif isinstance(node, ast.Call):
            ok = (kind == "sympy" and isinstance(node.func, ast.Name) and node.func.id in SYMPY_FUNCS
                  and not node.keywords)
            calls.add(id(node.func))
        elif isinstance(node, ast.Name):  # a function checked at its call, or a variable (never a builtin)
            ok = kind == "sympy" and (id(node) in calls or (bool(_NAME.fullmatch(node.id)) and not hasattr(builtins, node.id)))
        else:
            ok = False
        if not ok:
            return False
    return True


def answer_allowed(dataset: str, answer: str) -> bool:
    """Whether `answer` may reach the dataset's scorer (always, unless its scorer hands it to sympy)."""
    kind = EVAL_KIND.get(dataset)
    if kind is None:
        return True
    if len(answer) > MAX_ANSWER_CHARS:
        return False
    try:
        tree = ast.parse(answer.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return _allowed(tree, kind)


# -- safe_eval: what `eval` becomes in a scoring child --------------------------------------
_BIN = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_, ast.Invert: operator.invert}
_CMP = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
MAX_SHIFT = 1 << 16  # bits: 2**65536 is fine, 2**10**9 would stall the child until its CPU limit


def _big(op, a, b) -> bool:
    ints = isinstance(a, int) and isinstance(b, int)
    if op is ast.Pow and ints:
        return abs(b) * max(1, abs(a).bit_length()) > MAX_SHIFT
    if op is ast.LShift and ints:
        return b > MAX_SHIFT
    if op is ast.Mult and isinstance(b if isinstance(a, int) else a, (str, bytes, list, tuple)):
        return (a if isinstance(a, int) else b) > MAX_SHIFT
    return False


def _ev(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_ev(e) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_ev(k): _ev(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_ev(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        a, b = _ev(node.left), _ev(node.right)
        if _big(type(node.op), a, b):
            raise ValueError("safe_eval: result too large")
        return _BIN[type(node.op)](a, b)
    if isinstance(node, ast.BoolOp):
        vals = [_ev(v) for v in node.values]
        out = vals[0]
        for v in vals[1:]:
            out = (out and v) if isinstance(node.op, ast.And) else (out or v)
        return out
    if isinstance(node, ast.Compare) and all(type(op) in _CMP for op in node.ops):
        left = _ev(node.left)
        for op, right in zip(node.ops, node.comparators):
            right = _ev(right)
            if not _CMP[type(op)](left, right):
                return False
            left = right
        return True
    raise ValueError(f"safe_eval: {type(node).__name__} is not allowed")


def safe_eval(source, globals=None, locals=None):  # noqa: A002 - eval's own signature
    """`eval` restricted to literals, containers, arithmetic and comparisons: values, never code."""
    if isinstance(source, bytes):
        source = source.decode()
    if not isinstance(source, str):
        raise TypeError("safe_eval: a string expression is required")
    return _ev(ast.parse(source.strip(), mode="eval").body)


def _no_exec(*args, **kwargs):
    raise RuntimeError("exec is not available while scoring")


def guard(dataset: str) -> None:
    """Install the evaluation guard for one dataset's scorer (in the scoring child only)."""
    if dataset not in EVAL_KIND:
        builtins.eval = safe_eval
        builtins.exec = _no_exec
