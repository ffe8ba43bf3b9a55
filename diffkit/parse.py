"""Parse expression strings with an allow-list grammar: never ``eval``, ``sympify`` or ``parse_expr``.

Grammar (precedence low to high; ``**`` is right-associative and binds tighter than unary minus,
as in Python, so ``-x**2`` is ``-(x**2)``)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom ("**" unary)?
    atom   := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"

Allowed functions: sigmoid, tanh, relu, step, sign, exp, log, sqrt, abs, softplus, sin, cos,
max, min (two or more arguments), and sigmoid_prime (σ′, for checking hand derivations).
Decimal literals are exact (``0.5`` is ½).  Everything else is refused with a
:class:`~diffkit.errors.ParseError` naming the offending piece: attribute access, names with
underscores at the start (dunders), unknown functions, strings, brackets, lambdas, comprehensions,
over-long input, nesting deeper than ``MAX_DEPTH``, and numbers that would blow up (``9**9**9``).

Examples
--------
>>> parse("0.5*(y - sigmoid(w*x + b))**2 + lam*w**2")
lam*w**2 + (y - sigmoid(b + w*x))**2/2
>>> parse("max(x, 0) - -x**2")
x**2 + Max(0, x)
>>> parse("__import__('os')")
Traceback (most recent call last):
...
diffkit.errors.ParseError: names may not start with an underscore: '__import__' at position 1
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sympy as sp

from .errors import ParseError
from .functions import relu, sigmoid, sigmoid_prime, softplus, step

#: Longest expression string accepted, in characters.
MAX_LENGTH = 10_000
#: Deepest nesting of parentheses, calls, unary signs and powers.
MAX_DEPTH = 100
#: Largest number of digits a numeric result (literal or constant power) may have.
MAX_DIGITS = 100
#: Largest |exponent| of a constant power of a non-constant base.
MAX_EXPONENT = 1000

FUNCTIONS = {
    "sigmoid": sigmoid, "tanh": sp.tanh, "relu": relu, "step": step, "sign": sp.sign,
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "softplus": softplus,
    "sin": sp.sin, "cos": sp.cos, "max": sp.Max, "min": sp.Min, "sigmoid_prime": sigmoid_prime,
}
_VARIADIC = {"max", "min"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/(),])
""", re.VERBOSE)

_HINTS = {
    ".": "attribute access is not allowed",
    "^": "'^' is not a power here; use '**'",
    "'": "strings are not allowed", '"': "strings are not allowed",
    "[": "brackets are not allowed", "]": "brackets are not allowed",
    "{": "braces are not allowed", "}": "braces are not allowed",
    ":": "':' is not allowed (no lambdas, slices or annotations)",
    "=": "'=' is not allowed in an expression", "@": "'@' is not allowed",
    ";": "';' is not allowed", "%": "'%' is not allowed", "!": "'!' is not allowed",
}
_KEYWORDS = {"lambda", "for", "in", "if", "else", "import", "from", "and", "or", "not", "is",
             "def", "class", "return", "yield", "await", "async", "while", "with", "del", "global",
             "nonlocal", "pass", "raise", "try", "except", "finally", "assert", "True", "False", "None"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int  # 1-based column


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            ch = text[i]
            hint = _HINTS.get(ch, f"character {ch!r} is not allowed")
            raise ParseError(f"{hint} at position {i + 1}")
        kind = m.lastgroup
        if kind != "ws":
            tok = m.group()
            if kind == "name":
                if tok.startswith("_"):
                    raise ParseError(f"names may not start with an underscore: {tok!r} at position {i + 1}")
                if tok in _KEYWORDS:
                    raise ParseError(f"keyword {tok!r} is not allowed at position {i + 1}")
            if kind == "num" and _literal_digits(tok) > MAX_DIGITS:
                raise ParseError(f"number {tok[:20]!r} at position {i + 1} is too large or too long "
                                 f"(at most {MAX_DIGITS} digits)")
            toks.append(_Tok(kind, tok, i + 1))
        i = m.end()
    return toks


class _Parser:
    def __init__(self, text: str, symbols: dict[str, sp.Symbol]):
        self.toks = _tokenize(text)
        self.i = 0
        self.symbols = symbols
        self.text = text

    # -- helpers ----------------------------------------------------------------------------
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok is None or tok.text != text:
            got = "end of expression" if tok is None else f"{tok.text!r} at position {tok.pos}"
            raise ParseError(f"expected {text!r} but found {got}")
        self.i += 1

    @staticmethod
    def deeper(depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise ParseError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        return depth + 1

    # -- grammar ----------------------------------------------------------------------------
    def parse(self) -> sp.Expr:
        if not self.toks:
            raise ParseError("the expression is empty")
        e = self.expr(0)
        tok = self.peek()
        if tok is not None:
            if tok.text == ")":
                raise ParseError(f"unbalanced ')' at position {tok.pos}")
            raise ParseError(f"unexpected {tok.text!r} at position {tok.pos} (missing operator?)")
        return e

    def expr(self, depth: int) -> sp.Expr:
        e = self.term(depth)
        while (tok := self.peek()) is not None and tok.text in "+-" and tok.kind == "op":
            self.i += 1
            rhs = self.term(depth)
            e = e + rhs if tok.text == "+" else e - rhs
        return e

    def term(self, depth: int) -> sp.Expr:
        e = self.unary(depth)
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text in ("*", "/"):
            self.i += 1
            rhs = self.unary(depth)
            if tok.text == "/":
                if rhs.is_zero:
                    raise ParseError(f"division by zero at position {tok.pos}")
                e = e / rhs
            else:
                e = e * rhs
        return e

    def unary(self, depth: int) -> sp.Expr:
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.text in "+-":
            self.i += 1
            inner = self.unary(self.deeper(depth))
            return -inner if tok.text == "-" else inner
        return self.power(depth)

    def power(self, depth: int) -> sp.Expr:
        base = self.atom(depth)
        tok = self.peek()
        if tok is not None and tok.text == "**":
            self.i += 1
            exponent = self.unary(self.deeper(depth))
            return _safe_pow(base, exponent, tok.pos)
        return base

    def atom(self, depth: int) -> sp.Expr:
        tok = self.take()
        if tok.kind == "num":
            return sp.Rational(tok.text)
        if tok.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                return self.call(tok, depth)
            if tok.text in FUNCTIONS:
                raise ParseError(f"{tok.text!r} is a function; call it as {tok.text}(...) (position {tok.pos})")
            return self.symbols.setdefault(tok.text, sp.Symbol(tok.text, real=True))
        if tok.text == "(":
            e = self.expr(self.deeper(depth))
            if self.peek() is None:
                raise ParseError(f"unbalanced '(' at position {tok.pos}")
            self.expect(")")
            return e
        if tok.text == ")":
            raise ParseError(f"unbalanced ')' at position {tok.pos}")
        raise ParseError(f"unexpected {tok.text!r} at position {tok.pos}")

    def call(self, name: _Tok, depth: int) -> sp.Expr:
        if name.text not in FUNCTIONS:
            raise ParseError(
                f"unknown function {name.text!r} at position {name.pos}; allowed: {', '.join(sorted(FUNCTIONS))}")
        open_tok = self.take()  # "("
        inner = self.deeper(depth)
        args = [self.expr(inner)]
        while (tok := self.peek()) is not None and tok.text == ",":
            self.i += 1
            args.append(self.expr(inner))
        if self.peek() is None:
            raise ParseError(f"unbalanced '(' at position {open_tok.pos}")
        self.expect(")")
        if name.text in _VARIADIC:
            if len(args) < 2:
                raise ParseError(f"{name.text}() takes two or more arguments, got {len(args)}")
        elif len(args) != 1:
            raise ParseError(f"{name.text}() takes one argument, got {len(args)}")
        return FUNCTIONS[name.text](*args)


def _literal_digits(tok: str) -> int:
    mantissa, _, exp = tok.lower().partition("e")
    return max(len(mantissa.replace(".", "").lstrip("0")), abs(int(exp or 0)))


def _safe_pow(base: sp.Expr, exponent: sp.Expr, pos: int) -> sp.Expr:
    """``base**exponent``, refusing results that would be astronomically large to build."""
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT:
            raise ParseError(f"exponent {exponent} at position {pos} is too large (at most {MAX_EXPONENT})")
        if base.is_Number and base != 0:
            digits = abs(float(exponent)) * abs(math.log10(abs(float(base)))) if abs(float(base)) not in (0.0, math.inf) else math.inf
            if digits > MAX_DIGITS:
                raise ParseError(f"the power at position {pos} would have about {digits:.3g} digits (at most {MAX_DIGITS})")
        if base.is_zero and exponent.is_negative:
            raise ParseError(f"0 raised to a negative power at position {pos}")
    elif exponent.is_number:
        raise ParseError(f"the exponent at position {pos} is not a plain number")
    return base**exponent


def parse(text: str, *, symbols: dict[str, sp.Symbol] | None = None) -> sp.Expr:
    """Parse ``text`` into a SymPy expression using the allow-listed grammar.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"0.5*(y - sigmoid(w*x + b))**2 + lam*w**2"``.
    symbols : dict of str to Symbol, optional
        Symbols to reuse by name (new names are added to it); all symbols are real.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ParseError
        With a one-line message naming what is not allowed and where.
    """
    if not isinstance(text, str):
        raise ParseError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.isprintable() and any(c not in " \t" for c in text if not c.isprintable()):
        raise ParseError("expression contains control characters")
    expr = _Parser(text, symbols if symbols is not None else {}).parse()
    if expr.has(sp.I, sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ParseError(f"the expression is not a finite real expression (it simplifies to {expr})")
    return expr
