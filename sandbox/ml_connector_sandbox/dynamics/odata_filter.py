"""``$filter`` and key predicates: the subset of OData F&O supports, and nothing more.

Supported: eq ne gt ge lt le, and or not, parentheses, string literals (``''`` escapes an
apostrophe), numbers, true/false/null, DateTimeOffset literals (``2026-11-15T00:00:00Z``), enum
literals (``Microsoft.Dynamics.DataEntities.NoYes'Yes'``) and F&O's wildcard equality
(``Name eq '*text*'``). Refused with a 400, as F&O refuses them: ``in``, ``has``, arithmetic,
functions (``contains(...)``), lambda and path navigation. Precedence follows the OData library
F&O runs on: ``not`` binds tighter than comparisons, so ``not A eq 1`` is a type error and
``not (A eq 1)`` is what a client must write.

Operands are type-checked against the schema (an enum compared with a plain string is refused
with OData's "incompatible types" text) and the tree is compiled to parameterised SQL, so
filtering and paging happen in SQLite even over 50,000 workers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ml_connector_sandbox.dynamics.edm import (
    EdmError,
    canonical_decimal,
    enum_member,
    parse_datetime,
)
from ml_connector_sandbox.dynamics.errors import bad_query
from ml_connector_sandbox.dynamics.schema import NAMESPACE, EntitySchema, Property

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_OP_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_REFUSED_OPERATORS = {"in", "has", "add", "sub", "mul", "div", "divby", "mod", "any", "all"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<enum>[A-Za-z_][\w.]*\.[A-Za-z_]\w*'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDlLfF]?)
  | (?P<ident>[A-Za-z_$][\w]*)
  | (?P<punct>[(),=])
  | (?P<other>.)
    """,
    re.X,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Literal:
    """kind: string, number, boolean, null, datetime or enum (``type_name`` set)."""

    kind: str
    value: Any
    type_name: str = ""


@dataclass(frozen=True)
class PropertyRef:
    name: str


@dataclass(frozen=True)
class Comparison:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


Node = Literal | PropertyRef | Comparison | Logical | Not


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind == "ws":
            continue
        if kind == "other":
            raise bad_query(
                f"Syntax error: character '{m.group()}' is not valid at position {m.start()} in "
                f"'{text}'."
            )
        tokens.append(Token(kind, m.group(), m.start()))
    return tokens


def unquote(text: str) -> str:
    """``'O''Brien'`` -> ``O'Brien``."""
    return text[1:-1].replace("''", "'")


def quote(value: str) -> str:
    """The inverse of :func:`unquote`: how a client writes a string literal."""
    return "'" + value.replace("'", "''") + "'"


def _literal(tok: Token) -> Literal:
    if tok.kind == "string":
        return Literal("string", unquote(tok.text))
    if tok.kind == "datetime":
        try:
            return Literal("datetime", parse_datetime(tok.text))
        except EdmError as exc:
            raise bad_query(str(exc)) from exc
    if tok.kind == "number":
        text = tok.text.rstrip("mMdDlLfF")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise bad_query(f"'{tok.text}' is not a valid number literal.") from exc
        return Literal(
            "number", int(value) if value == value.to_integral() and "." not in text else value
        )
    if tok.kind == "enum":
        qualified, _, rest = tok.text.partition("'")
        return Literal("enum", unquote("'" + rest), qualified)
    raise bad_query(f"'{tok.text}' is not a literal.")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def keyword(self) -> str | None:
        tok = self.peek()
        return tok.text if tok is not None and tok.kind == "ident" else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise bad_query(f"Syntax error: unexpected end of expression in '{self.text}'.")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise bad_query(
                f"Syntax error: expected '{text}' at position {tok.pos} in '{self.text}', "
                f"found '{tok.text}'."
            )

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            self._refuse_operator(tok)
            raise bad_query(
                f"Syntax error at position {tok.pos} in '{self.text}': unexpected '{tok.text}'."
            )
        return node

    def _refuse_operator(self, tok: Token) -> None:
        if tok.kind == "ident" and tok.text in _REFUSED_OPERATORS:
            raise bad_query(
                f"The operator '{tok.text}' is not supported by this service: "
                f"rewrite '{self.text}' with eq/ne/gt/ge/lt/le combined by and/or/not."
            )

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.keyword() == "or":
            self.take()
            node = Logical("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_comparison()
        while self.keyword() == "and":
            self.take()
            node = Logical("and", node, self.parse_comparison())
        return node

    def parse_comparison(self) -> Node:
        left = self.parse_unary()
        kw = self.keyword()
        if kw in COMPARISONS:
            self.take()
            return Comparison(kw, left, self.parse_unary())
        tok = self.peek()
        if tok is not None:
            self._refuse_operator(tok)
        return left

    def parse_unary(self) -> Node:
        if self.keyword() == "not":
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.take()
        if tok.text == "(":
            node = self.parse_or()
            self.expect(")")
            return node
        if tok.kind in ("string", "number", "datetime", "enum"):
            return _literal(tok)
        if tok.kind == "ident":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                raise bad_query(
                    f"The function '{tok.text}' is not supported by this service; for a "
                    f"substring match use the wildcard form: Field eq '*text*'."
                )
            if tok.text in ("true", "false"):
                return Literal("boolean", tok.text == "true")
            if tok.text == "null":
                return Literal("null", None)
            if (
                tok.text in _REFUSED_OPERATORS
                or tok.text in COMPARISONS
                or tok.text
                in (
                    "and",
                    "or",
                )
            ):
                raise bad_query(f"Syntax error at position {tok.pos} in '{self.text}'.")
            if nxt is not None and nxt.kind == "other":
                raise bad_query(f"Syntax error at position {nxt.pos} in '{self.text}'.")
            return PropertyRef(tok.text)
        raise bad_query(f"Syntax error at position {tok.pos} in '{self.text}': '{tok.text}'.")


def parse_filter(text: str) -> Node:
    """Parse a ``$filter`` value into a tree; raises a 400 ODataError on anything unsupported."""
    if not text.strip():
        raise bad_query("The $filter query option is empty.")
    if "/" in re.sub(r"'(?:[^']|'')*'", "", text):
        raise bad_query(f"Path navigation and '/' are not supported in $filter: '{text}'.")
    return _Parser(text).parse()


# --- typing and compilation --------------------------------------------------------------


def _type_of(node: Node, entity: EntitySchema) -> str:
    if isinstance(node, PropertyRef):
        return _property(entity, node.name).type
    if isinstance(node, Literal):
        return {
            "string": "Edm.String",
            "number": "Edm.Decimal" if isinstance(node.value, Decimal) else "Edm.Int32",
            "boolean": "Edm.Boolean",
            "null": "null",
            "datetime": "Edm.DateTimeOffset",
            "enum": node.type_name,
        }[node.kind]
    return "Edm.Boolean"


def _property(entity: EntitySchema, name: str) -> Property:
    prop = entity.properties.get(name)
    if prop is None:
        raise bad_query(
            f"Could not find a property named '{name}' on type '{NAMESPACE}.{entity.entity_type}'."
        )
    return prop


_NUMERIC = {"Edm.Decimal", "Edm.Int32", "Edm.Int64", "Edm.Double"}
_STRINGY = {"Edm.String", "Edm.Guid"}


def _compatible(a: str, b: str) -> bool:
    if "null" in (a, b):
        return True
    if a in _NUMERIC and b in _NUMERIC:
        return True
    if a in _STRINGY and b in _STRINGY:
        return True
    return a.lower() == b.lower()


class _Compiler:
    def __init__(self, entity: EntitySchema) -> None:
        self.entity = entity
        self.params: list[Any] = []

    def compile(self, node: Node) -> str:
        if isinstance(node, Logical):
            return f"({self.compile(node.left)} {node.op.upper()} {self.compile(node.right)})"
        if isinstance(node, Not):
            if _type_of(node.operand, self.entity) != "Edm.Boolean":
                raise bad_query(
                    "A unary operator with an incompatible type was detected. "
                    "Found operand type '"
                    f"{_type_of(node.operand, self.entity)}' for operator kind 'Not'."
                )
            return f"(NOT {self.compile(node.operand)})"
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, PropertyRef):
            prop = _property(self.entity, node.name)
            if prop.type != "Edm.Boolean":
                raise bad_query(
                    f"The $filter expression must evaluate to a single boolean value; "
                    f"'{node.name}' is of type '{prop.type}'."
                )
            return f'("{prop.name}" = 1)'
        if isinstance(node, Literal) and node.kind == "boolean":
            return "(1 = 1)" if node.value else "(1 = 0)"
        raise bad_query("The $filter expression must evaluate to a single boolean value.")

    def comparison(self, node: Comparison) -> str:
        left_t = _type_of(node.left, self.entity)
        right_t = _type_of(node.right, self.entity)
        nested = isinstance(node.left, Comparison | Logical | Not) or isinstance(
            node.right, Comparison | Logical | Not
        )
        if nested and (not (left_t == right_t == "Edm.Boolean") or node.op not in ("eq", "ne")):
            raise bad_query(self._incompatible(left_t, right_t, node.op))
        if not _compatible(left_t, right_t):
            raise bad_query(self._incompatible(left_t, right_t, node.op))
        if "null" in (left_t, right_t):
            if node.op not in ("eq", "ne"):
                raise bad_query(self._incompatible(left_t, right_t, node.op))
            other = node.right if right_t != "null" else node.left
            if isinstance(other, Literal) and other.kind == "null":
                return "(1 = 1)" if node.op == "eq" else "(1 = 0)"
            return f"({self.operand(other, None)} IS {'' if node.op == 'eq' else 'NOT '}NULL)"
        prop = self._prop_side(node)
        if prop is not None and prop.enum is not None and node.op not in ("eq", "ne"):
            return self._enum_order(node, prop)
        if (
            prop is not None
            and prop.is_string
            and node.op in ("eq", "ne")
            and any(isinstance(n, Literal) and "*" in str(n.value) for n in (node.left, node.right))
        ):
            lit = node.right if isinstance(node.right, Literal) else node.left
            pattern = (
                str(lit.value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            ).replace("*", "%")
            self.params.append(pattern)
            negate = "NOT " if node.op == "ne" else ""
            return f"(\"{prop.name}\" {negate}LIKE ? ESCAPE '\\')"
        left = self.operand(node.left, prop)
        right = self.operand(node.right, prop)
        return f"({left} {COMPARISONS[node.op]} {right})"

    def _prop_side(self, node: Comparison) -> Property | None:
        for side in (node.left, node.right):
            if isinstance(side, PropertyRef):
                return _property(self.entity, side.name)
        return None

    def _enum_order(self, node: Comparison, prop: Property) -> str:
        members = prop.members or ()
        lit = node.right if isinstance(node.right, Literal) else node.left
        if not isinstance(lit, Literal) or not members:
            raise bad_query(f"Ordering comparison on enum '{prop.name}' needs a literal member.")
        idx = members.index(self._enum_value(prop, lit))
        op = (
            node.op
            if lit is node.right
            else {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}[node.op]
        )
        test = {
            "gt": lambda i: i > idx,
            "ge": lambda i: i >= idx,
            "lt": lambda i: i < idx,
            "le": lambda i: i <= idx,
        }[op]
        chosen = [m for i, m in enumerate(members) if test(i)]
        if not chosen:
            return "(1 = 0)"
        self.params.extend(chosen)
        return f'("{prop.name}" IN ({", ".join("?" for _ in chosen)}))'

    def _enum_value(self, prop: Property, lit: Literal) -> str:
        try:
            return enum_member(prop, lit.value)
        except EdmError as exc:
            raise bad_query(str(exc)) from exc

    def operand(self, node: Node, prop: Property | None) -> str:
        if isinstance(node, PropertyRef):
            return f'"{_property(self.entity, node.name).name}"'
        if isinstance(node, Literal):
            value = node.value
            if node.kind == "enum" and prop is not None:
                value = self._enum_value(prop, node)
            elif node.kind == "number" and prop is not None and prop.type == "Edm.Decimal":
                value = canonical_decimal(Decimal(value))
            elif node.kind == "number" and isinstance(value, Decimal):
                value = float(value)
            elif node.kind == "boolean":
                value = int(value)
            self.params.append(value)
            return "?"
        return self.compile(node)

    def _incompatible(self, a: str, b: str, op: str) -> str:
        return (
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{a}' and '{b}' for operator kind '{_OP_KIND[op]}'."
        )


def compile_filter(node: Node, entity: EntitySchema) -> tuple[str, list[Any]]:
    """SQL WHERE fragment and its parameters for a parsed filter on ``entity``."""
    compiler = _Compiler(entity)
    sql = compiler.compile(node)
    return sql, compiler.params


def filter_sql(text: str, entity: EntitySchema) -> tuple[str, list[Any]]:
    return compile_filter(parse_filter(text), entity)


# --- key predicates ------------------------------------------------------------------------


def parse_key_predicate(text: str, entity: EntitySchema) -> dict[str, Any]:
    """``dataAreaId='usmf',VendorAccountNumber='V-1001'`` or ``'RP-1'`` -> key values (storage
    form). Every key field must be named exactly once; nothing else is allowed."""
    tokens = tokenize(text)
    pairs: list[tuple[str | None, Token]] = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "ident" and i + 1 < len(tokens) and tokens[i + 1].text == "=":
            if i + 2 >= len(tokens):
                raise bad_query(f"Bad key segment '({text})'.")
            pairs.append((tokens[i].text, tokens[i + 2]))
            i += 3
        else:
            pairs.append((None, tokens[i]))
            i += 1
        if i < len(tokens):
            if tokens[i].text != ",":
                raise bad_query(f"Bad key segment '({text})'.")
            i += 1
    if len(pairs) == 1 and pairs[0][0] is None and len(entity.keys) == 1:
        pairs = [(entity.keys[0], pairs[0][1])]
    names = [n for n, _ in pairs]
    if None in names or sorted(names) != sorted(entity.keys):  # type: ignore[type-var]
        raise bad_query(
            f"The number of keys specified in the URI does not match number of key properties "
            f"for the resource '{NAMESPACE}.{entity.entity_type}' (expected "
            f"{', '.join(entity.keys)})."
        )
    out: dict[str, Any] = {}
    for name, tok in pairs:
        assert name is not None
        prop = entity.properties[name]
        lit = _literal(tok)
        try:
            if lit.kind == "string" and prop.is_string:
                out[name] = lit.value
            elif lit.kind == "number" and prop.type in _NUMERIC:
                out[name] = (
                    canonical_decimal(Decimal(lit.value))
                    if prop.type == "Edm.Decimal"
                    else int(lit.value)
                )
            elif lit.kind == "datetime" and prop.type == "Edm.DateTimeOffset":
                out[name] = lit.value
            elif lit.kind == "enum" and prop.enum is not None:
                out[name] = enum_member(prop, lit.value)
            else:
                raise bad_query(
                    f"The key value {tok.text} does not match the type '{prop.type}' of key "
                    f"property '{name}'."
                )
        except EdmError as exc:
            raise bad_query(str(exc)) from exc
    return out
