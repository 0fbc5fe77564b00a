"""``modkit serve``: an OpenAI-compatible moderation server around a backend."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from .._errors import InputError
from ._common import add_backend_options, add_cache_options, backend_from_args

#: ``--flag`` help per field of ServerLimits / HTTPOptions (the default is appended).
_LIMIT_HELP = {
    "max_inputs": "texts per request",
    "max_input_chars": "characters per text",
    "max_body_bytes": "bytes per request body",
    "max_request_chars": "work budget: characters over all texts of a request",
}
_LOAD_HELP = {
    "max_concurrent": "requests scored at once",
    "max_queue": "requests waiting to be scored; more get 429 at once",
    "scoring_timeout": "seconds from arrival to answer; later 503",
    "body_timeout": "seconds to receive a request body; later 408",
}
_HTTP_HELP = {
    "limit_concurrency": "connections at once; more get 503",
    "keep_alive_timeout": "seconds an idle keep-alive connection stays open",
    "header_timeout": "seconds a new connection has to send its headers",
    "max_header_bytes": "bytes of request line plus headers",
}


def _add_fields(
    p: argparse.ArgumentParser, title: str, defaults: object, helps: dict[str, str]
) -> None:
    """One ``--field-name`` option per field, typed and defaulted like the dataclass."""
    group = p.add_argument_group(title)
    for field, text in helps.items():
        value = getattr(defaults, field)
        group.add_argument(
            "--" + field.replace("_", "-"),
            type=type(value),
            default=value,
            help=f"{text} (default {value:g})"
            if isinstance(value, float)
            else f"{text} (default {value})",
        )


def register(sub: argparse._SubParsersAction) -> None:
    from ..server import HTTPOptions, ServerLimits

    p = sub.add_parser(
        "serve",
        help="serve a backend over an OpenAI-compatible HTTP API",
        description="Serve POST /v1/moderations, GET /v1/models and GET /healthz, backed by "
        "any modkit backend (local, replay, or openai to proxy upstream through the cache). "
        "Malformed requests, image inputs and requests over the size limits get a 400 in "
        "the OpenAI error shape. Cache: --cache PATH for any backend; without it the remote "
        "backends (openai, azure, perspective, mistral, guard, policy, qwen3guard, "
        "granite-guardian-3.3) use the default cache (the "
        "user cache directory).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="TCP port, 1..65535 (default 8000)")
    p.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require 'Authorization: Bearer <value of $NAME>' on every /v1 request",
    )
    add_backend_options(p, key_flag="--upstream-api-key-env")
    add_cache_options(p)
    _add_fields(p, "limits (over a limit: HTTP 400)", ServerLimits(), _LIMIT_HELP)
    _add_fields(p, "load (overload: HTTP 429 / 503 with Retry-After)", ServerLimits(), _LOAD_HELP)
    _add_fields(p, "connections (uvicorn)", HTTPOptions(), _HTTP_HELP)
    p.add_argument(
        "--thresholds",
        metavar="FILE",
        help="set 'flagged' and 'categories' in responses by this threshold file (a category "
        "is true when its score >= its block threshold; one without a threshold follows "
        "the file's 'unthresholded' policy, by default the backend's own flag; scores "
        "unchanged)",
    )
    p.add_argument(
        "--profile",
        choices=("input", "output"),
        default="input",
        help="which profile of --thresholds to apply (default input)",
    )
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._cache import Cache
    from ..server import HTTPOptions, ServerLimits, create_app, serve

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise InputError(
                f"--api-key-env {args.api_key_env}: the environment variable is not set or empty"
            )
    elif not _is_loopback(args.host):
        print(
            f"modkit serve: warning: listening on {args.host} without --api-key-env: "
            "anyone who can reach this port can use the backend",
            file=sys.stderr,
        )
    limits = ServerLimits(**{f: getattr(args, f) for f in (*_LIMIT_HELP, *_LOAD_HELP)})
    http = HTTPOptions(**{f: getattr(args, f) for f in _HTTP_HELP})
    postprocess = None
    if args.thresholds:  # a bad file fails here, before the backend loads
        from ..thresholds import load_thresholds, threshold_postprocess

        ts = load_thresholds(args.thresholds, args.profile)
        postprocess = threshold_postprocess(ts)
        print(f"modkit serve: {args.thresholds}: {ts.describe_policy()}", file=sys.stderr)
    backend = backend_from_args(args)
    # The cache: --cache PATH always; the default cache only when proxying a remote API
    # (paid, rate-limited, or going away: a cached answer keeps its behaviour).
    cache = None
    remote = (
        "openai",
        "azure",
        "perspective",
        "mistral",
        "guard",
        "policy",
        "qwen3guard",
        "granite-guardian-3.3",
    )
    if not args.no_cache and (args.cache or args.backend in remote):
        cache = Cache(args.cache) if args.cache else Cache()
    pinned = bool(args.model)  # --model NAME: serve that model only (others: 400)
    app = create_app(
        backend,
        cache=cache,
        api_key=api_key,
        limits=limits,
        postprocess=postprocess,
        pin_model=pinned,
    )
    print(
        f"modkit serve: backend {backend.name} (model {backend.model}"
        + (", pinned" if pinned else "")
        + ") at "
        f"http://{args.host}:{args.port}/v1"
        + (f", cache {cache.path}" if cache is not None else ", no cache")
        + (f", bearer token from ${args.api_key_env}" if api_key else "")
        + (f", flags by {args.thresholds} (profile {args.profile})" if postprocess else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(app, host=args.host, port=args.port, access_log=not args.no_access_log, http=http)
    finally:
        backend.close()  # made here, so closed here
        if cache is not None:
            cache.close()
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 1..65535; got {port}")
    return port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
