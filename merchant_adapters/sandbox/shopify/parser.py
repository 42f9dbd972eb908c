"""A GraphQL subset: enough to read the adapter's documents honestly and answer only what they ask."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class GraphQLError(Exception):
    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.body = {"message": message, "extensions": {"code": code, **extra}}


@dataclass
class Field:
    name: str
    key: str  # the alias, or the name
    args: dict[str, Any]
    selections: list[Field | Fragment]


@dataclass
class Fragment:
    on: str | None
    selections: list[Field | Fragment]


_TOKEN = re.compile(
    r'[\s,\ufeff]+|#[^\n\r]*|(?P<token>"(?:[^"\\\n]|\\.)*"|\.\.\.|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
    r"|[_A-Za-z][_0-9A-Za-z]*|[{}()\[\]:!$@=|&])"
)
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")


class Parser:
    """Recursive descent over one operation plus named fragments; arguments resolve variables."""

    def __init__(self, source: str, variables: Mapping[str, Any]) -> None:
        self.tokens: list[str] = []
        position = 0
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:
                raise GraphQLError(
                    f"Parse error on {source[position]!r} at {position}", "PARSE_ERROR"
                )
            if match.group("token"):
                self.tokens.append(match.group("token"))
            position = match.end()
        self.position = 0
        self.variables = variables
        self.spreads: list[tuple[Fragment, str]] = []

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise GraphQLError(f"Parse error on {token or 'end of document'!r}", "PARSE_ERROR")
        self.position += 1
        return token

    def name(self) -> str:
        token = self.take()
        if not _NAME.match(token):
            raise GraphQLError(f"Parse error on {token!r}: expected a name", "PARSE_ERROR")
        return token

    def document(self) -> tuple[str, list[Field | Fragment]]:
        operation: tuple[str, list[Field | Fragment]] | None = None
        fragments: dict[str, Fragment] = {}
        while self.peek() is not None:
            if self.peek() == "fragment":
                self.take()
                name = self.name()
                self.take("on")
                on = self.name()
                self.directives()
                fragments[name] = Fragment(on, self.selection_set())
                continue
            if operation is not None:
                raise GraphQLError("The sandbox runs one operation per document", "PARSE_ERROR")
            kind = "query"
            if self.peek() in ("query", "mutation", "subscription"):
                kind = self.take()
                if self.peek() not in ("(", "{", "@"):
                    self.name()
                if self.peek() == "(":
                    self.skip_variable_definitions()
                self.directives()
            operation = (kind, self.selection_set())
        if operation is None:
            raise GraphQLError("No operation in the document", "PARSE_ERROR")
        for fragment, name in self.spreads:
            if name not in fragments:
                raise GraphQLError(f"Fragment {name} was used, but not defined", "PARSE_ERROR")
            fragment.on, fragment.selections = fragments[name].on, fragments[name].selections
        return operation

    def selection_set(self) -> list[Field | Fragment]:
        self.take("{")
        selections: list[Field | Fragment] = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
                if self.peek() == "on":
                    self.take()
                    on = self.name()
                    self.directives()
                    selections.append(Fragment(on, self.selection_set()))
                elif self.peek() in ("{", "@"):
                    self.directives()
                    selections.append(Fragment(None, self.selection_set()))
                else:
                    spread = Fragment(None, [])
                    self.spreads.append((spread, self.name()))
                    self.directives()
                    selections.append(spread)
                continue
            key = name = self.name()
            if self.peek() == ":":
                self.take()
                name = self.name()
            args = self.arguments() if self.peek() == "(" else {}
            self.directives()
            children = self.selection_set() if self.peek() == "{" else []
            selections.append(Field(name, key, args, children))
        self.take("}")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args: dict[str, Any] = {}
        while self.peek() != ")":
            name = self.name()
            self.take(":")
            args[name] = self.value()
        self.take(")")
        return args

    def value(self) -> Any:
        token = self.take()
        if token == "$":
            return self.variables.get(self.name())
        if token.startswith('"'):
            return json.loads(token)
        if token[0] in "-0123456789":
            return float(token) if any(c in token for c in ".eE") else int(token)
        if token == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if token == "{":
            obj = {}
            while self.peek() != "}":
                key = self.name()
                self.take(":")
                obj[key] = self.value()
            self.take("}")
            return obj
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if _NAME.match(token):
            return token  # an enum value
        raise GraphQLError(f"Parse error on {token!r}", "PARSE_ERROR")

    def directives(self) -> None:
        while self.peek() == "@":
            self.take()
            self.name()
            if self.peek() == "(":
                self.arguments()

    def skip_variable_definitions(self) -> None:
        depth = 0
        while True:
            token = self.take()
            depth += {"(": 1, ")": -1}.get(token, 0)
            if depth == 0:
                return


def select_fields(value: Any, selections: list[Field | Fragment]) -> Any:
    """The resolved value cut down to the selected fields, as a GraphQL server answers."""
    if value is None or not selections:
        return value
    if isinstance(value, list):
        return [select_fields(item, selections) for item in value]
    selected: dict[str, Any] = {}
    for selection in selections:
        if isinstance(selection, Fragment):
            if selection.on is None or selection.on == value.get("__typename"):
                selected.update(select_fields(value, selection.selections))
            continue
        if selection.name == "__typename":
            selected[selection.key] = value.get("__typename")
            continue
        if selection.name not in value:
            typename = value.get("__typename", "Object")
            raise GraphQLError(
                f"Field '{selection.name}' doesn't exist on type '{typename}' (in this sandbox)",
                "undefinedField",
                typeName=typename,
                fieldName=selection.name,
            )
        field_value = value[selection.name]
        if callable(field_value):  # a field with arguments: a connection, metafield(...)
            field_value = field_value(selection.args)
        selected[selection.key] = select_fields(field_value, selection.selections)
    return selected
