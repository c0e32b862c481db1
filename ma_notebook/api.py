"""The request layer: typed request models, the ``@endpoint`` decorator and the OpenAPI document.

A handler verb reads like::

    @web.authenticated
    @authorized
    @endpoint(body=CloneRequest, response=TaskModel, status=202, summary="Clone a repository")
    async def post(self, body: CloneRequest) -> None:
        self.write_json(self.git().submit_clone(body).to_json(), 202)

``@endpoint`` validates the JSON body (``body=``) and the query string (``query=``) against
pydantic models before the verb runs (400 naming the field on any mismatch) and records what it
accepts and answers, from which :func:`openapi_document` builds the REST contract.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema

#: Longest URL accepted anywhere (8 KiB).
MAX_URL = 8192
#: Longest file or object name, in UTF-8 bytes.
MAX_NAME_BYTES = 255
#: Longest relative path accepted (characters).
MAX_PATH = 4096
#: Longest free text (descriptions, titles).
MAX_TEXT = 4096
#: How much of a bad value an error message may quote.
QUOTE_PREFIX = 40


class ApiError(Exception):
    """A domain error meant for the user; the base handler answers it as ``status`` + message."""

    def __init__(self, status: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def quote(value: object, limit: int = QUOTE_PREFIX) -> str:
    """A short, printable, quoted prefix of a user-supplied value for error messages."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text[: limit + 1])
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"'{text}'"


#: Unicode's control characters (category Cc): C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control(value: str) -> bool:
    # A regex, not a per-character loop: request validation runs on the event loop, and a
    # sparse-clone body may carry 10,000 paths.
    return _CONTROL.search(value) is not None


def no_control(value: str) -> str:
    """Refuse NUL and other control characters (tabs and newlines included)."""
    if _has_control(value):
        raise ValueError("must not contain NUL or other control characters")
    return value


def check_name(value: str) -> str:
    """A single file or object name: not empty, <= 255 UTF-8 bytes, no '/', no control chars."""
    if not value:
        raise ValueError("must not be empty")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError(f"is too long: at most {MAX_NAME_BYTES} bytes in UTF-8")
    no_control(value)
    if "/" in value or value in (".", ".."):
        raise ValueError("must be a single name, without '/' and not '.' or '..'")
    return value


def check_relpath(value: str) -> str:
    """A path as the file browser shows it: no control characters, each part a valid name."""
    no_control(value)
    for part in value.split("/"):
        if part and len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise ValueError(f"each path part must be at most {MAX_NAME_BYTES} bytes in UTF-8")
    return value


#: What the document says of strings without control characters (the validators decide).
_PRINTABLE = {"pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$"}
_NAME = {"pattern": "^[^/\\x00-\\x1f\\x7f-\\x9f]+$"}

#: A single file, folder or object name.
Name = Annotated[
    # The limit is in bytes (check_name); the schema states it as characters for clients.
    str,
    Field(json_schema_extra={**_NAME, "maxLength": MAX_NAME_BYTES}),
    AfterValidator(check_name),
]
#: A URL (scheme checks are the capability's; this caps length and refuses control characters).
Url = Annotated[
    str,
    Field(min_length=1, max_length=MAX_URL, json_schema_extra=_PRINTABLE),
    AfterValidator(no_control),
]
#: A path relative to the file browser's root ('' is the root); resolve it with ma_notebook.paths.
RelPath = Annotated[
    str, Field(max_length=MAX_PATH, json_schema_extra=_PRINTABLE), AfterValidator(check_relpath)
]
#: Free text on one line.
Text = Annotated[
    str, Field(max_length=MAX_TEXT, json_schema_extra=_PRINTABLE), AfterValidator(no_control)
]
#: A secret (token, password): capped, never echoed back.
Secret = Annotated[
    str, Field(max_length=MAX_URL, json_schema_extra=_PRINTABLE), AfterValidator(no_control)
]
#: A short one-line label (user name, branch, tool, identifier): at most 255 characters.
Label = Annotated[
    str, Field(max_length=MAX_NAME_BYTES, json_schema_extra=_PRINTABLE), AfterValidator(no_control)
]

#: Hostile values the fuzzing gate starts from (each model's ``examples`` use them).
HOSTILE = {
    "huge": "x" * 100_000,
    "nul": "a\x00b",
    "dotdot": "../../etc",
    "absolute": "/etc/hostname",
    "false": "false",
    "unicode": "r\u00e9sum\u00e9-\u6587\u4ef6-\U0001f600",
    "newline": "a\nb",
}


class RequestModel(BaseModel):
    """Base of request bodies: strict types (``"false"`` is not a boolean), no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=MAX_URL)


class QueryModel(BaseModel):
    """Base of query-string models: values arrive as strings and are converted, unknown refused."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_URL)


class ResponseModel(BaseModel):
    """Base of documented responses (extra fields allowed so answers can grow)."""

    model_config = ConfigDict(extra="allow")


class ErrorResponse(ResponseModel):
    """The JSON body of every error answer."""

    message: str
    reason: str | None = None


M = TypeVar("M", bound=BaseModel)

#: Query arguments Jupyter itself reads on any route; never part of a query model.
IGNORED_QUERY = frozenset({"token", "_xsrf"})


def validation_message(e: ValidationError, what: str = "request body") -> str:
    """One readable line per problem (at most three), naming the field, never echoing input."""
    parts = []
    for err in e.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        loc = quote(loc)[1:-1]  # a key can be user input (unknown fields, dict keys)
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        kind = err.get("type")
        if kind == "missing":
            parts.append(f"'{loc}' is required")
        elif kind == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
            parts.append(f"'{loc}' must not be empty")
        elif kind == "extra_forbidden":
            parts.append(f"Unknown field '{loc}' (not part of this request)")
        else:
            parts.append(f"'{loc}': {msg}" if loc else msg)
    more = e.error_count() - len(parts)
    text = "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return f"Invalid {what}: {text}."


def parse_model(model: type[M], data: Any, what: str = "request body") -> M:
    """``data`` validated as ``model``, or ApiError(400) naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(400, validation_message(e, what)) from None


@dataclass
class EndpointSpec:
    """What one verb accepts and answers, for validation and the OpenAPI document."""

    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    summary: str = ""
    errors: tuple[int, ...] = (400,)
    raw_body: str | None = None  # a media type for non-JSON bodies (streamed uploads)
    raw_response: str | None = None  # a media type for non-JSON answers (files, proxies)
    extra: dict[str, Any] = field(default_factory=dict)


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
    errors: Iterable[int] = (400,),
    raw_body: str | None = None,
    raw_response: str | None = None,
    parse: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a verb's request and response models; validate and pass ``body=`` / ``query=``.

    With ``parse=False`` the verb only documents its models (for handlers that must read the
    request themselves, e.g. streaming bodies).
    """
    spec = EndpointSpec(
        body=body,
        query=query,
        response=response,
        status=status,
        summary=summary,
        errors=tuple(errors),
        raw_body=raw_body,
        raw_response=raw_response,
    )

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def inner(self: Any, *args: Any, **kwargs: Any) -> Any:
            if parse and query is not None:
                kwargs["query"] = self.parse_query(query)
            if parse and body is not None:
                kwargs["body"] = self.parse(body)
            result = fn(self, *args, **kwargs)
            if hasattr(result, "__await__"):
                result = await result
            return result

        inner.__ma_endpoint__ = spec  # type: ignore[attr-defined]
        return inner

    return wrap


VERBS = ("get", "head", "post", "put", "patch", "delete")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>(?:[^()]|\([^()]*\))*)\)")


def openapi_path(pattern: str) -> tuple[str, list[dict[str, Any]]]:
    """A tornado URL regex as an OpenAPI path template and its path parameters."""
    params: list[dict[str, Any]] = []

    def sub(m: re.Match[str]) -> str:
        name, regex = m.group("name"), m.group("regex")
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": f"^{regex}$"},
            }
        )
        return "{" + name + "}"

    path = _GROUP.sub(sub, pattern).rstrip("$")
    path = path.replace("\\.", ".").replace("/?", "")
    return path, params


def endpoint_specs(handler_cls: type) -> dict[str, EndpointSpec]:
    """The ``@endpoint`` specs of a handler class, by verb."""
    specs = {}
    for verb in VERBS:
        fn = getattr(handler_cls, verb, None)
        spec = getattr(fn, "__ma_endpoint__", None)
        if spec is not None:
            specs[verb] = spec
    return specs


def _query_params(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def openapi_document(
    handlers: Iterable[tuple[Any, ...]], *, version: str, title: str = "ma-notebook REST API"
) -> dict[str, Any]:
    """An OpenAPI 3.1 document for every ``@endpoint`` verb of ``handlers``."""
    models: dict[type[BaseModel], None] = {ErrorResponse: None}
    routes = []
    for route in handlers:
        pattern, cls = route[0], route[1]
        specs = endpoint_specs(cls)
        if not specs:
            continue
        routes.append((pattern, cls, specs))
        for spec in specs.values():
            for m in (spec.body, spec.response):
                if m is not None:
                    models[m] = None
    keys = [(m, "validation") for m in models]
    _, top = models_json_schema(keys, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def ref(m: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{m.__name__}"}

    error = {"application/json": {"schema": ref(ErrorResponse)}}
    paths: dict[str, Any] = {}
    for pattern, cls, specs in routes:
        path, params = openapi_path(pattern)
        item = paths.setdefault(path, {})
        for verb, spec in specs.items():
            op: dict[str, Any] = {
                "operationId": f"{verb}_{cls.__name__}",
                "security": [{"token": []}],
                "parameters": list(params),
            }
            if spec.summary:
                op["summary"] = spec.summary
            elif cls.__doc__:
                op["summary"] = cls.__doc__.strip().splitlines()[0]
            if spec.query is not None:
                op["parameters"] += _query_params(spec.query, schemas)
            if spec.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(spec.body)}},
                }
            elif spec.raw_body:
                op["requestBody"] = {
                    "required": False,
                    "content": {spec.raw_body: {"schema": {"type": "string", "format": "binary"}}},
                }
            ok: dict[str, Any] = {"description": "Success"}
            if spec.response is not None:
                ok["content"] = {"application/json": {"schema": ref(spec.response)}}
            elif spec.raw_response:
                ok["content"] = {spec.raw_response: {"schema": {}}}
            responses: dict[str, Any] = {str(spec.status): ok}
            for code in sorted({*spec.errors, 401, 403}):
                responses[str(code)] = {"description": "Error", "content": error}
            op["responses"] = responses
            item[verb] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
    }
