"""The SOQL a sync connector sends, parsed and evaluated against the emulated org.

Supported: `SELECT f1, Rel.f2 | COUNT() | COUNT(Id) FROM Obj [WHERE ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]` with `=, !=, <>, <, <=, >, >=, [NOT] IN (...), LIKE, AND, OR, NOT`, parentheses and string,
number, boolean, null, date and datetime literals. Everything else is a `MALFORMED_QUERY`, so a connector that
relies on more finds out in tests rather than in production. Semantics follow Salesforce where it surprises:
text comparisons ignore case, `!=` matches nulls, and a datetime field only compares with an unquoted datetime.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldDef,
    ObjectDef,
    bulk_datetime,
    parse_date,
    parse_datetime,
    to_18,
)

Row = tuple[Any, ...]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    """A lexeme with its 0-based offset, for Salesforce-style `Row:1:Column:n` messages."""

    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Lit:
    """A literal; `raw` keeps a string's escapes for LIKE, where `\\%` and `\\_` stay literal."""

    kind: Literal["string", "number", "boolean", "null", "date", "datetime"]
    value: Any
    raw: str = ""


@dataclass(frozen=True)
class FieldRef:
    """A field path as written (`Account.Name`) and where it was written."""

    path: str
    pos: int


@dataclass(frozen=True)
class Compare:
    ref: FieldRef
    op: str
    value: Lit


@dataclass(frozen=True)
class InList:
    ref: FieldRef
    values: tuple[Lit, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    ref: FieldRef
    pattern: Lit


@dataclass(frozen=True)
class BoolOp:
    op: Literal["AND", "OR"]
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | InList | Like | BoolOp | Not


@dataclass(frozen=True)
class OrderKey:
    ref: FieldRef
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    """A parsed SOQL statement."""

    text: str
    object_name: str
    object_pos: int
    fields: list[FieldRef] = field(default_factory=list)
    count: Literal["", "rows", "aggregate"] = ""
    where: Condition | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None  # None when the query has no OFFSET clause (Bulk API 2.0 refuses even OFFSET 0)


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise _malformed(text, pos, f"unexpected token: '{text[pos : pos + 10].split()[0]}'")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _malformed(text: str, pos: int, message: str) -> SalesforceError:
    return SalesforceError("MALFORMED_QUERY", f"{_locate(text, pos)}{message}")


def _locate(text: str, pos: int) -> str:
    return f"\n{text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n"


def _unescape(inner: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(inner):
        char = inner[index]
        if char == "\\" and index + 1 < len(inner):
            nxt = inner[index + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


class _Parser:
    """Recursive descent over the token list; keywords are case-insensitive names."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self, offset: int = 0) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text.upper() in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _malformed(self.text, len(self.text), "unexpected end of query")
        self.index += 1
        return token

    def expect_keyword(self, word: str) -> Token:
        token = self.take()
        if token.kind != "name" or token.text.upper() != word:
            raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")
        return token

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")
        return token

    def name(self) -> Token:
        token = self.take()
        if token.kind != "name":
            raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")
        return token

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[FieldRef] = []
        count: Literal["", "rows", "aggregate"] = ""
        first = self.peek()
        nxt = self.peek(1)
        if first and nxt and first.kind == "name" and first.text.upper() == "COUNT" and nxt.text == "(":
            self.index += 2
            if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
                count = "rows"
            else:
                self.name()
                count = "aggregate"
            self.expect(")")
        else:
            while True:
                token = self.name()
                if token.text.upper() in {"FROM", "FIELDS", "TYPEOF"} or (self.peek() and self.peek().text == "("):  # type: ignore[union-attr]
                    raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")
                fields.append(FieldRef(token.text, token.pos))
                if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                    self.index += 1
                    continue
                break
        self.expect_keyword("FROM")
        obj = self.name()
        query = Query(self.text, obj.text, obj.pos, fields, count)
        if self.at_keyword("WHERE"):
            self.index += 1
            query.where = self.condition()
        if self.at_keyword("ORDER"):
            self.index += 1
            self.expect_keyword("BY")
            query.order = self.order_keys()
        if self.at_keyword("LIMIT"):
            self.index += 1
            query.limit = self.integer()
        if self.at_keyword("OFFSET"):
            self.index += 1
            query.offset = self.integer()
        trailing = self.peek()
        if trailing is not None:
            raise _malformed(self.text, trailing.pos, f"unexpected token: '{trailing.text}'")
        return query

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")
        return int(token.text)

    def order_keys(self) -> list[OrderKey]:
        keys: list[OrderKey] = []
        while True:
            token = self.name()
            descending = False
            if self.at_keyword("ASC", "DESC"):
                descending = self.take().text.upper() == "DESC"
            nulls_first = not descending
            if self.at_keyword("NULLS"):
                self.index += 1
                word = self.take()
                if word.text.upper() not in {"FIRST", "LAST"}:
                    raise _malformed(self.text, word.pos, f"unexpected token: '{word.text}'")
                nulls_first = word.text.upper() == "FIRST"
            keys.append(OrderKey(FieldRef(token.text, token.pos), descending, nulls_first))
            if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.index += 1
                continue
            return keys

    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.at_keyword("OR"):
            self.index += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Condition:
        items = [self.negation()]
        while self.at_keyword("AND"):
            self.index += 1
            items.append(self.negation())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def negation(self) -> Condition:
        if self.at_keyword("NOT"):
            self.index += 1
            return Not(self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.index += 1
            inner = self.condition()
            self.expect(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        token = self.name()
        ref = FieldRef(token.text, token.pos)
        if self.at_keyword("IN") or (self.at_keyword("NOT") and (self.peek(1) or token).text.upper() == "IN"):
            negated = self.take().text.upper() == "NOT"
            if negated:
                self.index += 1
            self.expect("(")
            if self.at_keyword("SELECT"):
                raise _malformed(self.text, self.take().pos, "semi-join subqueries are not supported by the emulator")
            values = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.index += 1
                values.append(self.literal())
            self.expect(")")
            return InList(ref, tuple(values), negated)
        if self.at_keyword("LIKE"):
            self.index += 1
            pattern = self.literal()
            if pattern.kind != "string":
                raise SalesforceError("INVALID_FIELD", f"{_locate(self.text, token.pos)}LIKE needs a quoted pattern")
            return Like(ref, pattern)
        op = self.take()
        if op.kind != "op":
            raise _malformed(self.text, op.pos, f"unexpected token: '{op.text}'")
        return Compare(ref, "!=" if op.text == "<>" else op.text, self.literal())

    def literal(self) -> Lit:
        token = self.take()
        if token.kind == "string":
            inner = token.text[1:-1]
            return Lit("string", _unescape(inner), inner)
        if token.kind == "number":
            text = token.text
            return Lit("number", float(text) if "." in text else int(text))
        if token.kind == "date":
            value = parse_date(token.text)
            if value is None:
                raise _malformed(self.text, token.pos, f"invalid date: {token.text}")
            return Lit("date", value)
        if token.kind == "datetime":
            moment = parse_datetime(token.text)
            if moment is None:
                raise _malformed(self.text, token.pos, f"invalid datetime: {token.text}")
            return Lit("datetime", moment)
        if token.kind == "name" and token.text.upper() in {"TRUE", "FALSE"}:
            return Lit("boolean", token.text.upper() == "TRUE")
        if token.kind == "name" and token.text.upper() == "NULL":
            return Lit("null", None)
        raise _malformed(self.text, token.pos, f"unexpected token: '{token.text}'")


def parse(text: str) -> Query:
    """Parse one SOQL statement; raises `SalesforceError("MALFORMED_QUERY")` on anything unsupported."""
    return _Parser(text.strip()).parse()


class Catalog(Protocol):
    """What evaluation needs from an org: its objects, a stable snapshot of rows and id lookup."""

    def object_def(self, name: str) -> ObjectDef | None: ...

    def snapshot(self, obj: ObjectDef, include_deleted: bool) -> list[Row]: ...

    def find(self, record_id: str) -> tuple[ObjectDef, Row] | None: ...


@dataclass
class ResolvedPath:
    """A field path bound to the schema: the relationship hops to walk and the leaf field."""

    name: str
    root: ObjectDef
    hops: tuple[tuple[str, str], ...]  # (reference field name, relationship name)
    leaf: FieldDef
    catalog: Catalog

    def __post_init__(self) -> None:
        self.root_index = self.root.index(self.hops[0][0] if self.hops else self.leaf.name)

    def value(self, row: Row) -> Any:
        """The value for a base row, following lookups (None when a parent is missing)."""
        if not self.hops:
            return row[self.root_index]  # type: ignore[index]
        parent = self.parent_chain(row)[-1]
        if parent is None:
            return None
        obj, parent_row = parent
        position = obj.index(self.leaf.name)
        return None if position is None else parent_row[position]

    def parent_chain(self, row: Row) -> list[tuple[ObjectDef, Row] | None]:
        """Each hop's parent record, so JSON rendering can nest them as Salesforce does."""
        chain: list[tuple[ObjectDef, Row] | None] = []
        obj, current = self.root, row
        for reference, _ in self.hops:
            position = obj.index(reference)
            parent_id = None if position is None else current[position]
            found = self.catalog.find(parent_id) if parent_id else None
            chain.append(found)
            if found is None:
                break
            obj, current = found
        return chain


def resolve_path(catalog: Catalog, root: ObjectDef, ref: FieldRef, text: str) -> ResolvedPath:
    """Bind `Account.Name` style paths; unknown names are Salesforce's `INVALID_FIELD`."""
    parts = ref.path.split(".")
    if len(parts) > 1 and parts[0].lower() == root.name.lower() and root.relationship(parts[0]) is None:
        parts = parts[1:]
    targets = [root]
    hops: list[tuple[str, str]] = []
    names: list[str] = []
    for part in parts[:-1]:
        reference = next((found for obj in targets if (found := obj.relationship(part)) is not None), None)
        if reference is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"{_locate(text, ref.pos)}Didn't understand relationship '{part}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        hops.append((reference.name, reference.relationship_name or part))
        names.append(reference.relationship_name or part)
        targets = [obj for target in reference.reference_to if (obj := catalog.object_def(target)) is not None]
    leaf = next((found for obj in targets if (found := obj.field(parts[-1])) is not None), None)
    if leaf is None:
        entity = targets[0].name if targets else root.name
        raise SalesforceError(
            "INVALID_FIELD",
            f"{_locate(text, ref.pos)}No such column '{parts[-1]}' on entity '{entity}'. If you are attempting to use "
            "a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or "
            "the describe call for the appropriate names.",
        )
    names.append(leaf.name)
    return ResolvedPath(".".join(names), root, tuple(hops), leaf, catalog)


def _type_error(text: str, ref: FieldRef, leaf: FieldDef, quoted: bool) -> SalesforceError:
    kind = {"datetime": "dateTime", "int": "int", "boolean": "boolean"}.get(leaf.type, leaf.type)
    if leaf.type in TEXT_TYPES or leaf.type in ID_TYPES:
        hint = "string and should be enclosed in quotes"
    else:
        hint = f"{kind} and should not be enclosed in quotes" if quoted else kind
    return SalesforceError(
        "INVALID_FIELD",
        f"{_locate(text, ref.pos)}value of filter criterion for field '{ref.path}' must be of type {hint}",
    )


def _comparable(text: str, ref: FieldRef, leaf: FieldDef, lit: Lit) -> Any:
    """The literal in the stored form of the field's type, or the error Salesforce gives for a mismatch."""
    kind = leaf.type
    if kind in TEXT_TYPES and lit.kind == "string":
        return str(lit.value).lower()
    if kind in ID_TYPES and lit.kind == "string":
        if lit.value == "":
            return None
        normalized = to_18(str(lit.value))
        if normalized is None:
            raise SalesforceError(
                "INVALID_QUERY_FILTER_OPERATOR", f"{_locate(text, ref.pos)}invalid ID field: {lit.value}"
            )
        return normalized
    if kind in NUMBER_TYPES and lit.kind == "number":
        return lit.value
    if kind == "boolean" and lit.kind == "boolean":
        return lit.value
    if kind == "date" and lit.kind == "date":
        return lit.value
    if kind == "datetime" and lit.kind == "datetime":
        return lit.value
    raise _type_error(text, ref, leaf, lit.kind == "string")


def _key(leaf: FieldDef) -> Callable[[Any], Any]:
    if leaf.type in TEXT_TYPES:
        return str.lower
    return lambda value: value


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _like_regex(raw: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            parts.append(re.escape(_ESCAPES.get(raw[index + 1], raw[index + 1])))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _compile(catalog: Catalog, root: ObjectDef, text: str, node: Condition) -> Predicate:
    if isinstance(node, BoolOp):
        items = [_compile(catalog, root, text, item) for item in node.items]
        if node.op == "AND":
            return lambda row: all(item(row) for item in items)
        return lambda row: any(item(row) for item in items)
    if isinstance(node, Not):
        inner = _compile(catalog, root, text, node.item)
        return lambda row: not inner(row)
    path = resolve_path(catalog, root, node.ref, text)
    if not path.leaf.filterable:
        raise SalesforceError(
            "INVALID_FIELD", f"{_locate(text, node.ref.pos)}field '{path.leaf.name}' can not be filtered in query call"
        )
    get = path.value
    key = _key(path.leaf)
    if isinstance(node, Like):
        if path.leaf.type not in TEXT_TYPES:
            raise SalesforceError(
                "INVALID_FIELD", f"{_locate(text, node.ref.pos)}invalid operator on {path.leaf.type} field: LIKE"
            )
        regex = _like_regex(node.pattern.raw)
        return lambda row: (value := get(row)) is not None and regex.fullmatch(value) is not None
    if isinstance(node, InList):
        wanted = {_comparable(text, node.ref, path.leaf, lit) for lit in node.values if lit.kind != "null"}
        with_null = any(lit.kind == "null" for lit in node.values)
        if node.negated:
            return lambda row: (
                ((value := get(row)) is None and not with_null) or (value is not None and key(value) not in wanted)
            )
        return lambda row: ((value := get(row)) is None and with_null) or (value is not None and key(value) in wanted)
    if node.value.kind == "null":
        if node.op not in {"=", "!="}:
            raise _malformed(text, node.ref.pos, f"invalid operator for null: {node.op}")
        if node.op == "=":
            return lambda row: get(row) is None
        return lambda row: get(row) is not None
    target = _comparable(text, node.ref, path.leaf, node.value)
    compare = _OPS[node.op]
    if target is None:
        return (lambda row: get(row) is None) if node.op == "=" else (lambda row: get(row) is not None)
    if node.op == "!=":
        return lambda row: (value := get(row)) is None or key(value) != target
    return lambda row: (value := get(row)) is not None and compare(key(value), target)


@dataclass
class QueryResult:
    """The rows a query selected (a stable snapshot) and how to render them for REST or Bulk."""

    obj: ObjectDef
    paths: list[ResolvedPath]
    rows: list[Row]
    count: Literal["", "rows", "aggregate"] = ""
    total: int = 0

    @property
    def columns(self) -> list[str]:
        """Canonical column names, as the CSV header and JSON keys spell them."""
        return [path.name for path in self.paths]

    def json_record(self, row: Row, api_version: str) -> dict[str, Any]:
        """One REST record with `attributes` and nested parent objects."""
        record: dict[str, Any] = {"attributes": _attributes(self.obj, row, api_version)}
        for path in self.paths:
            if not path.hops:
                record[path.leaf.name] = row[path.root_index]  # type: ignore[index]
                continue
            container = record
            chain = path.parent_chain(row)
            for (_, relationship), parent in zip(path.hops, chain, strict=False):
                if parent is None:
                    container[relationship] = None
                    break
                existing = container.get(relationship)
                if not isinstance(existing, dict):
                    existing = {"attributes": _attributes(parent[0], parent[1], api_version)}
                    container[relationship] = existing
                container = existing
            else:
                obj, parent_row = chain[-1]  # type: ignore[misc]
                position = obj.index(path.leaf.name)
                container[path.leaf.name] = None if position is None else parent_row[position]
        return record

    def json_records(self, start: int, stop: int, api_version: str) -> list[dict[str, Any]]:
        """A page of REST records."""
        if self.count == "aggregate":
            return [{"attributes": {"type": "AggregateResult"}, "expr0": self.total}] if start == 0 else []
        return [self.json_record(row, api_version) for row in self.rows[start:stop]]

    def flat(self, row: Row) -> dict[str, Any]:
        """A record as a plain dict keyed by dotted column name (for tests and in-process callers)."""
        return {path.name: path.value(row) for path in self.paths}

    def csv_values(self, row: Row) -> list[str]:
        """A Bulk API 2.0 CSV row: empty for null, `true`/`false`, datetimes with `Z`."""
        return [_csv_value(path.leaf, path.value(row)) for path in self.paths]


def _attributes(obj: ObjectDef, row: Row, api_version: str) -> dict[str, str]:
    return {"type": obj.name, "url": f"/services/data/v{api_version}/sobjects/{obj.name}/{row[0]}"}


def _csv_value(leaf: FieldDef, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if leaf.type == "datetime":
        return bulk_datetime(str(value))
    return str(value)


def _sort(rows: list[Row], keys: Iterable[tuple[ResolvedPath, OrderKey]]) -> list[Row]:
    ordered = list(rows)
    for path, order in reversed(list(keys)):
        get = path.value
        key = _key(path.leaf)
        # Nulls get a flag that sorts them to the requested end; the second item is never compared across kinds.
        null_flag = order.nulls_first if order.descending else not order.nulls_first

        def sort_key(
            row: Row, get: Callable[[Row], Any] = get, key: Callable[[Any], Any] = key, null_flag: bool = null_flag
        ) -> tuple[bool, Any]:
            value = get(row)
            if value is None:
                return (null_flag, "")
            return (not null_flag, key(value))

        ordered.sort(key=sort_key, reverse=order.descending)
    return ordered


def execute(catalog: Catalog, text: str, include_deleted: bool = False) -> QueryResult:
    """Run a SOQL statement: the rows are captured when it runs, so later writes do not move pages."""
    query = parse(text)
    obj = catalog.object_def(query.object_name)
    if obj is None:
        raise SalesforceError(
            "INVALID_TYPE",
            f"{_locate(query.text, query.object_pos)}sObject type '{query.object_name}' is not supported. If you are "
            "attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )
    paths: list[ResolvedPath] = []
    seen: set[str] = set()
    for ref in query.fields:
        path = resolve_path(catalog, obj, ref, query.text)
        if path.name.lower() in seen:
            raise SalesforceError(
                "INVALID_FIELD", f"{_locate(query.text, ref.pos)}duplicate field selected: {ref.path}"
            )
        seen.add(path.name.lower())
        paths.append(path)
    predicate = _compile(catalog, obj, query.text, query.where) if query.where is not None else None
    order = [(resolve_path(catalog, obj, key.ref, query.text), key) for key in query.order]
    for path, key in order:
        if not path.leaf.sortable:
            raise SalesforceError(
                "INVALID_FIELD",
                f"{_locate(query.text, key.ref.pos)}field '{path.leaf.name}' can not be sorted in a query call",
            )
    rows = catalog.snapshot(obj, include_deleted)
    if predicate is not None:
        rows = [row for row in rows if predicate(row)]
    if order:
        rows = _sort(rows, order)
    offset = query.offset or 0
    end = None if query.limit is None else offset + query.limit
    if offset or end is not None:
        rows = rows[offset:end]
    if query.count:
        return QueryResult(obj, [], [], query.count, len(rows))
    return QueryResult(obj, paths, rows, query.count, len(rows))
