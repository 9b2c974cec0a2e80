"""Population expressions: a tiny, safe, three-valued condition language over features.

Why a language and not Python lambdas: rules are data (YAML) a clinician can review and
version; `eval` on data would be a code-injection hole. Why three-valued: a missing eGFR
must make "egfr < 30" UNKNOWN, not False (which would silently allow metformin) nor True.

Grammar:
    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum | "in" list)?
    sum     := atom (("+" | "-") atom)*
    atom    := NUMBER | 'string' | NAME | "known(" NAME ")" | "true" | "false" | "(" expr ")"
    list    := "[" atom ("," atom)* "]"
`known(x)` is True when x has a value (the one way to ask about missing data).
Unknown (None) propagates through comparisons and arithmetic; `and`/`or` follow Kleene
logic (False and UNKNOWN = False, True or UNKNOWN = True).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*')|(?P<op><=|>=|==|!=|<|>|\+|-|\(|\)|\[|\]|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
KEYWORDS = ("and", "or", "not", "in", "true", "false")


class ExpressionError(ValueError):
    """The expression does not parse or names an unknown variable."""


Node = tuple[Any, ...]


@dataclass(frozen=True)
class Expression:
    source: str
    tree: Node
    names: frozenset[str]

    def evaluate(self, env: Mapping[str, Any]) -> bool | None:
        value = _eval(self.tree, env)
        if self.tree[0] == "var":  # a bare flag name: "pregnant"
            value = _truth(value)
        if value is None or isinstance(value, bool):
            return value
        raise ExpressionError(f"{self.source!r} is not a condition (gives {value!r})")


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    source = source.strip()
    while pos < len(source):
        match = TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read {source[pos:]!r} in {source!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "name" and text in KEYWORDS:
            kind = "kw"
        out.append((kind, text))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0
        self.names: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (text is not None and tok[1] != text):
            raise ExpressionError(f"expected {text or 'more'} in {self.source!r}")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == text

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.source!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at("not"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self) -> Node:
        left = self.sum_()
        tok = self.peek()
        if tok and tok[1] in ("<", "<=", ">", ">=", "==", "!="):
            self.take()
            return ("cmp", tok[1], left, self.sum_())
        if tok and tok[1] == "in":
            self.take()
            self.take("[")
            items = [self.atom()]
            while self.at(","):
                self.take()
                items.append(self.atom())
            self.take("]")
            return ("in", left, tuple(items))
        return left

    def sum_(self) -> Node:
        node = self.atom()
        while self.at("+") or self.at("-"):
            op = self.take()[1]
            node = ("arith", op, node, self.atom())
        return node

    def atom(self) -> Node:
        kind, text = self.take()
        if text == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "num":
            return ("const", float(text))
        if kind == "str":
            return ("const", text[1:-1])
        if text in ("true", "false"):
            return ("const", text == "true")
        if kind == "name" and text == "known" and self.at("("):
            self.take("(")
            kind, name = self.take()
            if kind != "name":
                raise ExpressionError(f"known() takes a name in {self.source!r}")
            self.take(")")
            self.names.add(name)
            return ("known", name)
        if kind == "name":
            self.names.add(text)
            return ("var", text)
        raise ExpressionError(f"unexpected {text!r} in {self.source!r}")


def expression_parse(source: str, *, known_names: frozenset[str] | None = None) -> Expression:
    parser = _Parser(source)
    tree = parser.parse()
    if known_names is not None:
        unknown = parser.names - known_names
        if unknown:
            raise ExpressionError(f"unknown names {sorted(unknown)} in {source!r}")
    return Expression(source=source, tree=tree, names=frozenset(parser.names))


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _truth(value: Any) -> bool | None:
    """Features are floats 0.0/1.0 for flags: a bare name means value >= 0.5."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value >= 0.5
    return bool(value)


def _eval(node: Node, env: Mapping[str, Any]) -> Any:
    op = node[0]
    if op == "const":
        return node[1]
    if op == "var":
        return env.get(node[1])
    if op == "known":
        return env.get(node[1]) is not None
    if op == "not":
        value = _truth(_eval(node[1], env))
        return None if value is None else not value
    if op == "and":
        left = _truth(_eval(node[1], env))
        if left is False:
            return False
        right = _truth(_eval(node[2], env))
        if right is False:
            return False
        return None if left is None or right is None else True
    if op == "or":
        left = _truth(_eval(node[1], env))
        if left is True:
            return True
        right = _truth(_eval(node[2], env))
        if right is True:
            return True
        return None if left is None or right is None else False
    if op == "cmp":
        a, b = _eval(node[2], env), _eval(node[3], env)
        if a is None or b is None:
            return None
        if isinstance(a, bool) and not isinstance(b, bool):
            a = float(a)
        return _CMP[node[1]](a, b)
    if op == "in":
        a = _eval(node[1], env)
        return None if a is None else a in [_eval(item, env) for item in node[2]]
    if op == "arith":
        a, b = _eval(node[2], env), _eval(node[3], env)
        if a is None or b is None:
            return None
        return a + b if node[1] == "+" else a - b
    raise ExpressionError(f"bad node {op}")  # pragma: no cover
