"""Operations, and the OpenAPI 3.1 document built from them and the app's routes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.routing import BaseRoute, Route

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True, slots=True)
class Answer:
    """One status of an operation: what it means, its body's schema, its headers."""

    description: str
    body: Any = None  # a pydantic model or any type pydantic can describe; None: empty
    headers: tuple[str, ...] = ()
    media_type: str = JSON
    example: Any = None
    # OpenAPI links: name to a Link object, naming its target by operation_id().
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    answers: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    forms: bool = True  # the body may be a urlencoded form as well as JSON
    security: tuple[str, ...] = ()  # any one of these schemes ("": none); empty: none needed
    query: tuple[Query, ...] = ()
    example: Mapping[str, Any] | None = None
    description: str = ""
    path_descriptions: Mapping[str, str] = field(default_factory=dict)


# (method, path template) to operation, for each dialect's routes.
Operations = Mapping[tuple[str, str], Operation]


def operation_id(method: str, path: str) -> str:
    """The operationId the document gives the operation of ``method`` on ``path``."""
    return f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}"


def header_link(
    method: str, path: str, header: str, value: str, description: str
) -> dict[str, Any]:
    """An OpenAPI link to the operation of ``method`` on ``path``, sent with ``header`` set
    to ``value`` (a runtime expression, such as a token read from the answer's body)."""
    return {
        "operationId": operation_id(method, path),
        "parameters": {f"header.{header}": value},
        "description": description,
    }


class Schemas:
    """The components' schemas, each model described once under its own name."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, kind: Any) -> dict[str, Any]:
        schema = TypeAdapter(kind).json_schema(by_alias=True, ref_template=REF)
        self.components.update(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            self.components[kind.__name__] = schema
            return {"$ref": REF.format(model=kind.__name__)}
        return schema


def _parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": operation.path_descriptions.get(name, ""),
        }
        for name in PATH_PARAMETER.findall(path)
    ]
    parameters += [
        {
            "name": query.name,
            "in": "query",
            "required": query.required,
            "schema": {"type": "string"},
            "description": query.description,
        }
        for query in operation.query
    ]
    return parameters


def _answer(answer: Answer, schemas: Schemas, headers: Mapping[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.body is not None:
        content: dict[str, Any] = {"schema": schemas.of(answer.body)}
        if answer.example is not None:
            content["example"] = answer.example
        described["content"] = {answer.media_type: content}
    if answer.headers:
        described["headers"] = {name: headers[name] for name in answer.headers}
    if answer.links:
        described["links"] = {name: dict(link) for name, link in answer.links.items()}
    return described


def _operation(
    method: str, path: str, operation: Operation, schemas: Schemas, headers: Mapping[str, Any]
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation_id(method, path),
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": [{scheme: []} if scheme else {} for scheme in operation.security],
        "responses": {
            str(status): _answer(answer, schemas, headers)
            for status, answer in sorted(operation.answers.items())
        },
    }
    if operation.description:
        described["description"] = operation.description
    parameters = _parameters(path, operation)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        content: dict[str, Any] = {"schema": schemas.of(operation.body)}
        if operation.example is not None:
            content["example"] = operation.example
        types = [JSON, FORM] if operation.forms else [JSON]
        described["requestBody"] = {"required": False, "content": dict.fromkeys(types, content)}
    return described


class MissingOperation(LookupError):
    """An API route that no operation describes: the document would lie by omission."""


def api_routes(routes: Iterable[BaseRoute], prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(method, path) of every route under ``prefixes``; HEAD is GET's twin, not listed."""
    found = []
    for route in routes:
        if isinstance(route, Route) and route.path.startswith(prefixes):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    return found


def build(
    routes: Iterable[BaseRoute],
    operations: Operations,
    prefixes: tuple[str, ...],
    front: Mapping[str, Any],
    headers: Mapping[str, Any],
) -> dict[str, Any]:
    """The document of every route under ``prefixes``. Raises MissingOperation."""
    schemas = Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for method, path in api_routes(routes, prefixes):
        operation = operations.get((method, path))
        if operation is None:
            raise MissingOperation(f"{method} {path} has no operation in the contract")
        described = _operation(method, path, operation, schemas, headers)
        paths.setdefault(path, {})[method.lower()] = described
    return {
        "openapi": OPENAPI_VERSION,
        **front,
        "paths": paths,
        "components": {**front.get("components", {}), "schemas": schemas.components},
    }
