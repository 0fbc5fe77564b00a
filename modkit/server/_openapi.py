"""The OpenAPI 3.1 document of the server's routes (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_MODEL = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}
_RESULT = {
    "type": "object",
    "required": ["flagged", "categories", "category_scores", "category_applied_input_types"],
    "properties": {
        "flagged": {"type": "boolean"},
        "categories": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "category_scores": {
            "type": "object",
            "additionalProperties": {"type": ["number", "null"]},
        },
        "category_applied_input_types": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
_PATH_MODEL = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
_HEALTH = {
    "type": "object",
    "required": ["status", "backend", "model"],
    "properties": {
        "status": {"enum": ["ok", "overloaded"]},
        "backend": {"type": "string"},
        "model": {"type": "string"},
        "scoring": {"type": "integer"},
        "queued": {"type": "integer"},
        "max_concurrent": {"type": "integer"},
        "max_queue": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    what = {
        400: "bad request: invalid JSON, wrong types, over a limit, or input[i] unscorable",
        401: "missing or wrong bearer token",
        403: "the upstream endpoint rejected this server's credentials",
        404: "no such model or route",
        429: "the server's queue is full or the upstream rate limit was hit (Retry-After)",
        502: "the backend failed",
        503: "not scored in time, or the upstream endpoint is unavailable (Retry-After)",
    }
    return {str(c): _json({"$ref": "#/components/schemas/Error"}, what[c]) for c in codes}


def openapi_document(
    *, model: str, max_inputs: int, max_input_chars: int, auth: bool
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this server.

    Parameters
    ----------
    model : str
        The backend's model (the only id ``/v1/models/{model}`` knows).
    max_inputs, max_input_chars : int
        The request limits, stated in the request schema.
    auth : bool
        Whether ``/v1`` routes need a bearer token.

    Returns
    -------
    dict
        A JSON-able OpenAPI document.
    """
    text_object = {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    }
    message = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"enum": ["system", "user", "assistant"]},
            "content": {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1}]},
            "name": {"type": "string"},
        },
        "additionalProperties": False,
    }
    conversation = {
        "type": "array",
        "minItems": 1,
        "items": message,
        "description": "a conversation: one result, scored by the 'conversation' strategy",
    }
    request = {
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": {
                "oneOf": [
                    {"type": "string", "maxLength": max_input_chars},
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": max_inputs,
                        "items": {"type": "string", "maxLength": max_input_chars},
                    },
                    {"type": "array", "minItems": 1, "maxItems": max_inputs, "items": text_object},
                    conversation,
                    {"type": "array", "minItems": 1, "maxItems": max_inputs, "items": conversation},
                ]
            },
            "model": {"type": "string", "description": f"this server's model is {model!r}"},
            "conversation": {
                "type": "string",
                "pattern": "^(native|per_message|last_turn|window:[1-9][0-9]*)$",
                "description": "how a conversation input is scored (default: native for guard "
                "models, else per_message); the openai SDK sends it via extra_body",
            },
        },
    }
    response = {
        "type": "object",
        "required": ["id", "model", "results"],
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string"},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
        },
    }
    security: list[dict[str, list[str]]] = [{"bearer": []}] if auth else []
    v1_errors = (400, 401) if auth else (400,)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "modkit serve: OpenAI-compatible moderation", "version": "1"},
        "paths": {
            "/v1/moderations": {
                "post": {
                    "operationId": "createModeration",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": request}},
                    },
                    "responses": {
                        "200": _json(response, "one result per input, in input order"),
                        **_errors(*v1_errors, 403, 429, 502, 503),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "security": security,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["object", "data"],
                                "properties": {
                                    "object": {"const": "list"},
                                    "data": {"type": "array", "items": _MODEL},
                                },
                            },
                            "the backend's model",
                        ),
                        **_errors(*v1_errors[1:]),
                    },
                }
            },
            "/v1/models/{model}": {
                "get": {
                    "operationId": "retrieveModel",
                    "security": security,
                    "parameters": [_PATH_MODEL],
                    "responses": {
                        "200": _json(_MODEL, "the model"),
                        **_errors(*v1_errors[1:], 404),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "responses": {
                        "200": _json(_HEALTH, "serving"),
                        "503": _json(_HEALTH, "overloaded: the queue is full"),
                    },
                }
            },
        },
        "components": {"schemas": {"Error": _ERROR, "Result": _RESULT}},
    }
    if auth:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
