"""`calc`: exact arithmetic on rationals, parsed by an AST walk (never `eval`).

    calc("123*456")        # '56088'
    calc("(1+2)/4")        # '3/4'
    calc("2**10 - 7 % 3")  # '1023'

Grammar: integers and decimals (`1.5` is 3/2), parentheses, unary `+ -`, binary `+ - * / // % **`.
Anything else (names, calls, attributes, strings, comparisons) is refused with a one-line
`ValueError`, which the tool environment shows the model as an error result. Sizes are bounded so
that no call can run long or exhaust memory: the input's length, every intermediate number's size
in bits, and exponents.
"""

from __future__ import annotations

import ast
import operator
from fractions import Fraction

from ponder.tools.registry import Tool

MAX_CHARS = 200  # longest expression accepted
MAX_BITS = 4096  # numerator / denominator size of every intermediate value (~1200 decimal digits)
MAX_EXPONENT = 1000  # |b| in a**b

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _bounded(x: Fraction) -> Fraction:
    if max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_BITS:
        raise ValueError(f"number too large (over {MAX_BITS} bits)")
    return x


def _pow(a: Fraction, b: Fraction) -> Fraction:
    if b.denominator != 1:
        raise ValueError("only whole exponents are exact")
    if abs(b) > MAX_EXPONENT or abs(b) * max(a.numerator.bit_length(), a.denominator.bit_length()) > MAX_BITS:
        raise ValueError(f"power too large (over {MAX_BITS} bits)")
    return a ** int(b)


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(Fraction(str(node.value)) if isinstance(node.value, float) else Fraction(node.value))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        a, b = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _bounded(_pow(a, b))
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
            raise ValueError("division by zero")
        return _bounded(Fraction(_BINARY[type(node.op)](a, b)))
    raise ValueError(f"unsupported expression: {type(node).__name__}")


def fmt(x: Fraction) -> str:
    """'7', '-3/4': an integer when whole, else the reduced fraction."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def calc(text: str) -> str:
    """The exact value of an arithmetic expression; ValueError (one line) for anything else."""
    expr = text.strip().replace("^", "**").replace("×", "*").rstrip("=?").strip()
    if not expr:
        raise ValueError("empty expression")
    if len(expr) > MAX_CHARS:
        raise ValueError(f"expression longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError):
        raise ValueError(f"cannot parse {expr[:40]!r}") from None
    return fmt(_eval(tree))


CALC = Tool("calc", "exact arithmetic: + - * / // % ** and parentheses on integers and decimals; "
                    "the input is the expression, e.g. 123*456", calc)
