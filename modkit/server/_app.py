"""The OpenAI-compatible moderation server (a Starlette app)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._cache import Cache, input_key
from .._conversation import (
    ConversationPlan,
    check_conversation,
    combine_results,
    is_conversation,
    plan_conversations,
)
from .._errors import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    InputError,
    QuotaExceededError,
    TransientBackendError,
)
from .._images import check_parts
from .._result import ItemError, ModerationResult
from .._text import utf8_problem
from ..backends import Backend, is_alias, refusal, refuse_parts, resolve_snapshot
from ._admission import Admission, Overloaded, ScoringTimeout
from ._decisions import PROFILE_HEADER, DecisionPolicy, UnknownProfileError
from ._openapi import openapi_document

__all__ = ["ServerLimits", "create_app"]

logger = logging.getLogger("modkit.server")

#: Results per request from which ``modkit serve`` decides (``decisions`` / ``postprocess``)
#: in a worker thread rather than on the event loop (about 0.04 ms per result, so a
#: smaller request costs less than the hand-over).
DECIDE_OFF_LOOP_AT = 32

#: ``postprocess(result) -> result``: applied to every result before it is sent.
Postprocess = Callable[[ModerationResult], ModerationResult]


@dataclass(frozen=True)
class ServerLimits:
    """Limits of the server's work; a request over a size limit gets a 400.

    Attributes
    ----------
    max_inputs : int, default 256
        Texts in one request's ``input`` list.
    max_input_chars : int, default 32768
        Characters in one text.
    max_body_bytes : int, default 8 MiB
        Bytes of the request body.
    max_request_chars : int, default 65536
        The work budget of one request: characters over all its texts (scoring time
        grows with it; the local scorer takes about 10 s for 32k characters on 2 cores).
    max_concurrent : int, default 4
        Requests scored at once.
    max_queue : int, default 32
        Requests waiting for a scoring slot; when full, a request gets 429 with
        ``Retry-After`` at once and ``/healthz`` says ``overloaded`` (503).
    scoring_timeout : float, default 60
        Seconds from a request's arrival to its answer (waiting included); later, 503
        with ``Retry-After``. The work goes on to the end and its results are cached.
    body_timeout : float, default 30
        Seconds to receive a request's body; later, 408.

    Raises
    ------
    InputError
        When a size or concurrency limit is below 1, ``max_queue`` is negative, or a
        timeout is not > 0.

    Examples
    --------
    >>> from modkit.server import ServerLimits
    >>> ServerLimits(max_inputs=32, scoring_timeout=10).max_request_chars
    65536
    >>> ServerLimits(max_concurrent=0)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: server limit max_concurrent must be at least 1, got 0
    """

    max_inputs: int = 256
    max_input_chars: int = 32_768
    max_body_bytes: int = 8 * 1024 * 1024
    max_request_chars: int = 65_536
    max_concurrent: int = 4
    max_queue: int = 32
    scoring_timeout: float = 60.0
    body_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in (
            "max_inputs",
            "max_input_chars",
            "max_body_bytes",
            "max_request_chars",
            "max_concurrent",
        ):
            if getattr(self, name) < 1:
                raise InputError(
                    f"server limit {name} must be at least 1, got {getattr(self, name)}"
                )
        if self.max_queue < 0:
            raise InputError(f"server limit max_queue must be at least 0, got {self.max_queue}")
        for name in ("scoring_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise InputError(f"server limit {name} must be > 0, got {getattr(self, name)}")


class _RequestError(Exception):
    """An error response in the OpenAI error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def create_app(
    backend: Backend,
    *,
    cache: Cache | None = None,
    api_key: str | None = None,
    postprocess: Postprocess | None = None,
    limits: ServerLimits | None = None,
    close_backend: bool = True,
    pin_model: bool = False,
    decisions: DecisionPolicy | None = None,
) -> Starlette:
    """Build the OpenAI-compatible moderation server around a backend.

    Routes: ``POST /v1/moderations`` (``input``: a string, a list of strings, or a list
    of ``{"type": "text", "text": ...}`` objects; optional ``model``), ``GET
    /v1/models``, ``GET /v1/models/{id}``, ``GET /healthz`` (``overloaded`` and a 503
    when the queue is full) and ``GET /openapi.json`` (this API as OpenAPI 3.1).

    Parameters
    ----------
    backend : Backend
        Any modkit backend (local, replay, or ``openai`` to proxy upstream).
    cache : Cache, optional
        Look results up here first and store what the backend returns (keyed like
        :func:`modkit.moderate`'s cache, so the two share entries).
    api_key : str, optional
        If set, every ``/v1`` request needs ``Authorization: Bearer <api_key>`` (401
        otherwise). Compared in constant time; never logged.
    postprocess : callable, optional
        ``postprocess(result) -> result``, applied to each :class:`ModerationResult`
        before it is serialised (e.g. to rewrite ``flagged`` and ``categories`` from a
        threshold file). Cached results are stored before this step.
    limits : ServerLimits, optional
        Size limits of one request (default :class:`ServerLimits`).
    close_backend : bool, default True
        Release the backend's network resources bound to the app's event loop when the
        app shuts down (:meth:`Backend.arelease`); the backend itself is not closed,
        since the caller made it.
    pin_model : bool, default False
        Serve only ``backend.model``: a request naming another ``model`` gets a 400
        ``model_mismatch``. Otherwise a backend that can ask for any model (the OpenAI
        backend: ``modkit serve --backend openai`` without ``--model``) forwards the
        client's ``model`` upstream, and any other backend answers with its own model,
        which the response's ``model`` names.
    decisions : DecisionPolicy, optional
        Decide every result by a threshold file (enforced or in shadow mode), pick the
        file's profile per request (header ``X-Modkit-Profile``; an unknown one gets a
        400 ``unknown_profile``), add the ``modkit`` action field and write the
        decision log (see :class:`modkit.server.DecisionPolicy`). Replaces
        ``postprocess`` (give one or the other).

    Returns
    -------
    starlette.applications.Starlette
        An ASGI app; run it with :func:`modkit.server.serve` or any ASGI server.

    Raises
    ------
    InputError
        Both ``postprocess`` and ``decisions`` given.

    Notes
    -----
    A request is answered with a 400 in the OpenAI error shape when its body is not
    JSON, ``input`` is missing or of the wrong type, an input is an image, a limit of
    :class:`ServerLimits` is exceeded, or the backend rejects one of the texts (the
    message names the input's index, as the real endpoint does, so that
    :func:`modkit.moderate` can split the batch and find it).

    Examples
    --------
    A key-protected server around a backend (here one that scores with
    :class:`modkit.testing.FaultServer`), called with the official ``openai`` SDK:

    >>> import modkit
    >>> from openai import OpenAI
    >>> from modkit.server import ServerThread, create_app
    >>> from modkit.testing import FaultServer
    >>> with FaultServer() as upstream:
    ...     backend = modkit.backends.OpenAIBackend(base_url=upstream.url, api_key="sk-upstream")
    ...     with ServerThread(create_app(backend, api_key="sk-local")) as server:
    ...         with OpenAI(base_url=server.url, api_key="sk-local") as client:
    ...             response = client.moderations.create(input=["hello"])
    >>> len(response.results), round(response.results[0].category_scores.violence, 2)
    (1, 0.04)
    """
    limits = limits or ServerLimits()
    if decisions is not None and postprocess is not None:
        raise InputError("create_app: give postprocess or decisions, not both")
    key_digest = hashlib.sha256(api_key.encode()).digest() if api_key else None

    def check_auth(request: Request) -> None:
        if key_digest is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = hashlib.sha256(token.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, key_digest):
            raise _RequestError(
                401,
                "Incorrect or missing API key: send 'Authorization: Bearer <key>'.",
                code="invalid_api_key",
            )

    admission = Admission(limits.max_concurrent, limits.max_queue, limits.scoring_timeout)

    routing = _Models(backend, pinned=pin_model)

    async def moderations(request: Request) -> JSONResponse:
        started = time.monotonic()
        check_auth(request)
        profile = _profile(decisions, request)
        texts, asked, strategy = await _read_inputs(request, limits)
        inputs = texts  # the request's own inputs, one per result (the decision log's)
        scorer = routing.backend_for(asked)
        plan = None
        if any(is_conversation(t) for t in texts):  # units by the strategy, combined below
            if strategy is None:
                strategy = "native" if scorer.accepts_conversations else "per_message"
            try:
                plan = plan_conversations(
                    texts, strategy, native=scorer.accepts_conversations, where="input"
                )
            except InputError as exc:
                raise _RequestError(
                    400, str(exc), param="conversation", code="invalid_value"
                ) from None
            texts = plan.units
        elif strategy is not None:
            raise _RequestError(
                400,
                "'conversation' applies to conversation inputs (lists of role/content "
                "messages) only",
                param="conversation",
                code="invalid_value",
            )
        _check_accepts(scorer, texts, plan)
        try:
            results = await admission.run(lambda: _score(scorer, cache, texts, routing))
        except _RequestError:
            raise
        except Overloaded as exc:
            raise _RequestError(
                429,
                f"this server is busy ({admission.active} requests scoring, "
                f"{admission.waiting} waiting): retry after {exc.retry_after} s",
                type="requests",
                code="server_overloaded",
                headers={"retry-after": str(exc.retry_after)},
            ) from None
        except ScoringTimeout as exc:
            raise _RequestError(
                503,
                f"not scored within {exc.timeout:g} s (the server is busy or the texts are "
                f"long): retry after {exc.retry_after} s",
                type="server_error",
                code="timeout",
                headers={"retry-after": str(exc.retry_after)},
            ) from None
        except Exception as exc:  # a backend bug: answer 500, keep serving
            logger.error("backend %r failed: %s", backend.name, type(exc).__name__)
            raise _RequestError(
                500, f"backend {backend.name!r} failed", type="server_error", code="backend_error"
            ) from None
        for i, res in enumerate(results):
            where = f"input[{i}]" if plan is None else _unit_name(plan, i)
            if isinstance(res, ItemError) and res.code == "malformed_result":
                raise _RequestError(  # upstream's fault, not the client's text
                    502,
                    f"upstream result for {where}: {res.message}",
                    type="server_error",
                    code="upstream_malformed_result",
                )
            if isinstance(res, ItemError):
                param = where.split(" ", 1)[0].rstrip(":")
                raise _RequestError(
                    400, f"{where}: {res.message}", param=param, code=res.code or "invalid_input"
                )
        scored = [r for r in results if isinstance(r, ModerationResult)]
        records: list[dict[str, Any] | None] = [None] * len(scored)
        if plan is not None:  # one result per conversation: the max over its units
            scored, records = _combine(plan, scored)
        off_loop = len(scored) >= DECIDE_OFF_LOOP_AT  # a large batch: decide in a thread
        if postprocess is not None:
            hook = postprocess
            if off_loop:
                scored = await asyncio.to_thread(lambda: [hook(r) for r in scored])
            else:
                scored = [hook(r) for r in scored]
        model = next((r.model for r in scored if r.model), backend.model)
        request_id = f"modr-{uuid.uuid4().hex}"
        if decisions is not None and profile is not None:
            args = (scored, inputs, profile, request_id, started)
            if off_loop:
                out, _ = await asyncio.to_thread(decisions.decide_batch, *args)
            else:
                out, _ = decisions.decide_batch(*args)
        else:
            out = [_result_json(r) for r in scored]
        for item, record in zip(out, records, strict=True):
            if record is not None:
                item["conversation"] = record
        return JSONResponse({"id": request_id, "model": model, "results": out})

    async def models(request: Request) -> JSONResponse:
        check_auth(request)
        return JSONResponse({"object": "list", "data": [_model_card(backend.model)]})

    async def model(request: Request) -> JSONResponse:
        check_auth(request)
        name = request.path_params["model"]
        if name != backend.model:
            raise _RequestError(
                404, f"The model {name!r} does not exist.", param="model", code="model_not_found"
            )
        return JSONResponse(_model_card(name))

    async def healthz(request: Request) -> JSONResponse:
        state = admission.status()
        body = {"status": state.pop("status"), "backend": backend.name, "model": backend.model}
        return JSONResponse({**body, **state}, status_code=503 if admission.overloaded else 200)

    document = openapi_document(
        model=backend.model,
        max_inputs=limits.max_inputs,
        max_input_chars=limits.max_input_chars,
        auth=key_digest is not None,
    )

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def client_gone(request: Request, exc: Exception) -> Response:
        logger.info("client disconnected before its request body was complete")
        return Response(status_code=400)  # nobody is listening: never sent

    async def request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, _RequestError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        err = _RequestError(
            exc.status_code, str(exc.detail), code="not_found" if exc.status_code == 404 else None
        )
        return err.response()

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("internal error: %s", type(exc).__name__)
        return _RequestError(500, "internal server error", type="server_error").response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_backend:  # what the app's loop opened; the backend stays the caller's
                await backend.arelease()

    routes = [
        Route("/v1/moderations", moderations, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model:path}", model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            _RequestError: request_error,
            ClientDisconnect: client_gone,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.limits = limits
    app.state.admission = admission
    return app


def _profile(decisions: DecisionPolicy | None, request: Request) -> str | None:
    """The request's threshold profile (None without decisions); unknown: a 400."""
    if decisions is None:
        return None
    try:
        return decisions.profile_for(request.headers)
    except UnknownProfileError as exc:
        raise _RequestError(400, str(exc), param=PROFILE_HEADER, code="unknown_profile") from None


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "modkit"}


def _result_json(res: ModerationResult) -> dict[str, Any]:
    out = res.to_dict()
    if "category_applied_input_types" not in out:  # legacy results: text was the input
        out["category_applied_input_types"] = {k: ["text"] for k in res.category_scores}
    return out


def _unit_name(plan: ConversationPlan, i: int) -> str:
    """``input[2]: message 1`` for a unit of a conversation (the request's numbering)."""
    row, message = plan.owner[i], plan.message[i]
    if message < 0:
        return f"input[{row}]"
    if plan.strategy in ("per_message", "last_turn"):
        return f"input[{row}]: message {message}"
    return f"input[{row}]"


def _combine(
    plan: ConversationPlan, results: list[ModerationResult]
) -> tuple[list[ModerationResult], list[dict[str, Any] | None]]:
    """One result per input: a conversation's units combined by the max rule."""
    rows: dict[int, list[int]] = {}
    for j, row in enumerate(plan.owner):
        rows.setdefault(row, []).append(j)
    combined: list[ModerationResult] = []
    records: list[dict[str, Any] | None] = []
    for row in sorted(rows):
        js = rows[row]
        if row not in plan.conversation_rows:
            combined.append(results[js[0]])
            records.append(None)
            continue
        res, record = combine_results(
            [results[j] for j in js], [plan.message[j] for j in js], plan.strategy
        )
        combined.append(res)
        records.append(record)
    return combined, records


def _check_accepts(
    backend: Backend, inputs: Sequence[Any], plan: ConversationPlan | None = None
) -> None:
    """A 400 naming the input when the backend cannot take it (an image for a text-only
    backend, a whole conversation for one that does not take conversations)."""
    for i, value in enumerate(inputs):
        if is_conversation(value):
            refused = refusal(backend, value)
            if refused is not None:
                where = f"input[{i}]" if plan is None else _unit_name(plan, i)
                raise _RequestError(
                    400,
                    f"{where}: {refused.message}",
                    param=where.split(":")[0],
                    code="unsupported_input_type",
                )
    if backend.accepts_images:
        return
    for value in inputs:
        if isinstance(value, list) and not is_conversation(value):
            error = refuse_parts(backend, value)
            j = next((i for i, p in enumerate(value) if p.get("type") == "image_url"), 0)
            raise _RequestError(
                400,
                f"image inputs are not supported: {error.message}",
                param=f"input[{j}]",
                code="unsupported_input_type",
            )


async def _read_inputs(
    request: Request, limits: ServerLimits
) -> tuple[list[Any], str | None, str | None]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise _too_big(int(declared), limits)
    try:
        raw = await asyncio.wait_for(_read_body(request, limits), limits.body_timeout)
    except TimeoutError:
        raise _RequestError(
            408,
            f"the request body did not arrive within {limits.body_timeout:g} s",
            code="request_timeout",
        ) from None
    payload = _parse_json(raw)
    if not isinstance(payload, dict):
        raise _RequestError(400, "the request body must be a JSON object", code="invalid_json")
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise _RequestError(400, "'model' must be a string", param="model", code="invalid_type")
    if "input" not in payload:
        raise _RequestError(
            400,
            "missing required parameter 'input'",
            param="input",
            code="missing_required_parameter",
        )
    strategy = payload.get("conversation")
    if strategy is not None and not isinstance(strategy, str):
        raise _RequestError(
            400, "'conversation' must be a string", param="conversation", code="invalid_type"
        )
    return _texts(payload["input"], limits), model, strategy


async def _read_body(request: Request, limits: ServerLimits) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise _too_big(size, limits)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    """The body as JSON; anything the parser refuses is the client's 400 ``invalid_json``."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        where = f" at line {exc.lineno} column {exc.colno}"
        reason = exc.msg
    except UnicodeDecodeError:
        where, reason = "", "not UTF-8"
    except RecursionError:
        where, reason = "", "nested too deeply"
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        where, reason = "", str(exc).split(":")[0]
    raise _RequestError(
        400, f"the request body is not valid JSON{where} ({reason})", code="invalid_json"
    )


def _too_big(size: int, limits: ServerLimits) -> _RequestError:
    return _RequestError(
        400,
        f"request body of {size} bytes is over this server's limit of "
        f"{limits.max_body_bytes} bytes",
        code="request_too_large",
    )


def _texts(value: Any, limits: ServerLimits) -> list[Any]:
    """The request's inputs: texts, or one multimodal input (a list of parts).

    As the endpoint does, a list holding an ``image_url`` part is one multimodal input
    (one result); a list of strings or text objects is that many texts.
    """
    if (
        isinstance(value, list)
        and any(isinstance(v, dict) and v.get("type") == "image_url" for v in value)
        and all(isinstance(v, dict) for v in value)
    ):
        return [_parts(value, limits)]
    if is_conversation(value):  # one conversation: one result
        return [_conversation(value, "input", limits)[0]]
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        if len(value) > limits.max_inputs:
            raise _RequestError(
                400,
                f"too many inputs: {len(value)} is over this server's limit of "
                f"{limits.max_inputs} per request",
                param="input",
                code="too_many_inputs",
            )
        conversations, total = [], 0
        for i, v in enumerate(value):
            messages, chars = _conversation(v, f"input[{i}]", limits)
            total += chars
            if total > limits.max_request_chars:
                raise _RequestError(
                    400,
                    f"the texts of this request hold more than this server's work budget of "
                    f"{limits.max_request_chars} characters per request (reached at "
                    f"input[{i}]): send fewer or shorter conversations per request",
                    param="input",
                    code="request_too_large",
                )
            conversations.append(messages)
        return conversations
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _RequestError(
            400,
            "'input' must be a string, a list of strings or a list of text objects, "
            f"not {type(value).__name__}",
            param="input",
            code="invalid_type",
        )
    if not items:
        raise _RequestError(400, "'input' is an empty list", param="input", code="invalid_value")
    if len(items) > limits.max_inputs:
        raise _RequestError(
            400,
            f"too many inputs: {len(items)} is over this server's limit of "
            f"{limits.max_inputs} per request",
            param="input",
            code="too_many_inputs",
        )
    texts: list[Any] = []
    total = 0
    for i, item in enumerate(items):
        text = _one_text(item, i)
        problem = utf8_problem(text)
        if problem is not None:
            raise _RequestError(
                400, f"input[{i}]: {problem}", param=f"input[{i}]", code="invalid_text"
            )
        if len(text) > limits.max_input_chars:
            raise _RequestError(
                400,
                f"input[{i}]: {len(text)} characters is over this server's limit of "
                f"{limits.max_input_chars} per input",
                param=f"input[{i}]",
                code="input_too_long",
            )
        total += len(text)
        if total > limits.max_request_chars:
            raise _RequestError(
                400,
                f"the texts of this request hold more than this server's work budget of "
                f"{limits.max_request_chars} characters per request (reached at input[{i}]): "
                "send fewer or shorter texts per request",
                param="input",
                code="request_too_large",
            )
        texts.append(text)
    return texts


def _conversation(value: Any, where: str, limits: ServerLimits) -> tuple[list[dict[str, Any]], int]:
    """One conversation, validated, and its characters of text (within the per-input
    limit)."""
    try:
        messages = check_conversation(value, where=where)
    except InputError as exc:
        message = str(exc)
        raise _RequestError(
            400, message, param=message.split(":", 1)[0], code="invalid_value"
        ) from None
    chars = 0
    for i, m in enumerate(messages):
        texts = (
            [m["content"]]
            if isinstance(m["content"], str)
            else [p["text"] for p in m["content"] if p["type"] == "text"]
        )
        for text in texts:
            problem = utf8_problem(text)
            if problem is not None:
                raise _RequestError(
                    400, f"{where}[{i}].content: {problem}", param=where, code="invalid_text"
                )
            chars += len(text)
    if chars > limits.max_input_chars:
        raise _RequestError(
            400,
            f"{where}: {chars} characters of text is over this server's limit of "
            f"{limits.max_input_chars} per input",
            param=where,
            code="input_too_long",
        )
    return messages, chars


def _parts(value: list[Any], limits: ServerLimits) -> list[dict[str, Any]]:
    """One multimodal input, validated; its text parts within the per-input limit."""
    try:
        parts = check_parts(value, where="input")
    except InputError as exc:
        message = str(exc)
        param = message.split(":", 1)[0].split(".", 1)[0]
        raise _RequestError(400, message, param=param, code="invalid_value") from None
    chars = 0
    for i, part in enumerate(parts):
        if part["type"] == "text":
            problem = utf8_problem(part["text"])
            if problem is not None:
                raise _RequestError(
                    400, f"input[{i}].text: {problem}", param=f"input[{i}]", code="invalid_text"
                )
            chars += len(part["text"])
    if chars > limits.max_input_chars:
        raise _RequestError(
            400,
            f"input: {chars} characters of text is over this server's limit of "
            f"{limits.max_input_chars} per input",
            param="input",
            code="input_too_long",
        )
    return parts


def _one_text(item: Any, i: int) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        kind = item.get("type")
        if kind == "text" and isinstance(item.get("text"), str):
            return str(item["text"])
        if kind in ("image_url", "image", "input_image"):
            raise _RequestError(
                400,
                f"input[{i}]: image inputs are not supported: this server scores text only",
                param=f"input[{i}]",
                code="unsupported_input_type",
            )
        raise _RequestError(
            400,
            f"input[{i}]: an input object needs type 'text' and a string 'text'",
            param=f"input[{i}]",
            code="invalid_type",
        )
    raise _RequestError(
        400,
        f"input[{i}]: expected a string, got {type(item).__name__}",
        param=f"input[{i}]",
        code="invalid_type",
    )


class _Models:
    """Which backend scores a request that names a ``model``, and which snapshot an
    alias answers with (remembered for a minute, so cached results of a snapshot the
    alias has moved on from are never served)."""

    SNAPSHOT_TTL = 60.0

    def __init__(self, backend: Backend, *, pinned: bool) -> None:
        self.backend = backend
        self.pinned = pinned
        self.forwards = bool(getattr(backend, "resolves_aliases", False)) and not pinned
        self.clones: dict[str, Backend] = {}
        self.snapshots: dict[str, tuple[str, float]] = {}

    def backend_for(self, asked: str | None) -> Backend:
        if asked is None or asked == self.backend.model:
            return self.backend
        if self.pinned:
            raise _RequestError(
                400,
                f"this server serves model {self.backend.model!r} only; the request asked "
                f"for {asked!r}",
                param="model",
                code="model_mismatch",
            )
        if not self.forwards:
            return self.backend  # answers with its own model, named in the response
        if asked not in self.clones:
            self.clones[asked] = self.backend.with_model(asked)  # type: ignore[attr-defined]
        return self.clones[asked]

    def saw(self, model: str, snapshot: str) -> None:
        self.snapshots[model] = (snapshot, time.monotonic())

    async def snapshot(self, backend: Backend) -> str | None:
        """Today's snapshot of ``backend.model`` (None: cannot tell)."""
        model = backend.model
        if not getattr(backend, "resolves_aliases", False) or not is_alias(model):
            return model
        known = self.snapshots.get(model)
        if known is not None and time.monotonic() - known[1] < self.SNAPSHOT_TTL:
            return known[0]
        current = await resolve_snapshot(backend)
        if current is not None:
            self.saw(model, current)
        return current


async def _score(
    backend: Backend, cache: Cache | None, texts: Sequence[Any], models: _Models
) -> list[ModerationResult | ItemError]:
    """Score texts: cache hits first, one backend call for the distinct misses."""
    ns, model = backend.cache_namespace, backend.model
    keys = [input_key(ns, model, t) for t in texts]
    found: dict[str, ModerationResult | ItemError] = {}
    if cache is not None:
        found.update(await asyncio.to_thread(cache.get_many, set(keys)))
    if found and getattr(backend, "resolves_aliases", False) and is_alias(model):
        current = await models.snapshot(backend)  # never serve another snapshot's result
        found = {
            k: r
            for k, r in found.items()
            if current is not None and isinstance(r, ModerationResult) and r.model == current
        }
    missing: dict[str, Any] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in found:
            missing.setdefault(key, text)
    if missing:
        fresh = await _call_backend(backend, list(missing.values()))
        if len(fresh) != len(missing):
            raise _RequestError(
                502,
                f"backend {backend.name!r} returned {len(fresh)} results for {len(missing)} texts",
                type="server_error",
            )
        good: dict[str, tuple[ModerationResult, str]] = {}
        for (key, text), res in zip(missing.items(), fresh, strict=True):
            found[key] = res
            if isinstance(res, ModerationResult):
                good[key] = (res, text if isinstance(text, str) else json.dumps(text))
                if res.model:
                    models.saw(model, res.model)
        if cache is not None and good:
            await asyncio.to_thread(cache.put_many, good, namespace=ns, model=model)
    return [found[k] for k in keys]


async def _call_backend(backend: Backend, texts: list[Any]) -> list[ModerationResult | ItemError]:
    try:
        return list(await backend.ascore(texts))
    except QuotaExceededError as exc:
        raise _RequestError(
            429, f"upstream: {exc}", type="insufficient_quota", code="insufficient_quota"
        ) from None
    except TransientBackendError as exc:
        if exc.rate_limited:
            headers = {}
            if exc.retry_after is not None:
                headers = {
                    "retry-after-ms": f"{exc.retry_after * 1000:.0f}",
                    "retry-after": str(max(1, round(exc.retry_after))),
                }
            raise _RequestError(
                429,
                f"upstream rate limit: {exc}",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            ) from None
        raise _RequestError(503, f"upstream unavailable: {exc}", type="server_error") from None
    except AuthenticationError as exc:
        # 403, not 5xx: clients must not retry what only the server's operator can fix
        raise _RequestError(
            403,
            f"upstream rejected this server's credentials: {exc}",
            type="permission_denied",
            code="upstream_authentication",
        ) from None
    except BatchRejectedError as exc:
        raise _RequestError(
            400, f"upstream rejected the request: {exc}", code=exc.code or "invalid_input"
        ) from None
    except BackendError as exc:
        raise _RequestError(
            502, f"backend {backend.name!r} failed: {exc}", type="server_error"
        ) from None
