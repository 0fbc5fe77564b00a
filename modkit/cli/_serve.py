"""``modkit serve``: an OpenAI-compatible moderation server around a backend."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import TYPE_CHECKING

from .._errors import InputError
from ..backends import backend_spec, backend_specs
from ._common import add_backend_options, add_cache_options, backend_from_args

if TYPE_CHECKING:
    from ..server import DecisionPolicy

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
        f"backends ({', '.join(s.name for s in backend_specs() if s.remote)}) use the "
        "default cache (the user cache directory).",
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
        default="input",
        help="the profile of --thresholds for requests without an X-Modkit-Profile header "
        "(default input); a request's header picks another profile of the file, an "
        "unknown one gets a 400",
    )
    prod = p.add_argument_group("rollout (need --thresholds)")
    prod.add_argument(
        "--shadow",
        action="store_true",
        help="answer with the backend's own flags (or with --enforced) and only record what "
        "--thresholds would decide (in --decision-log)",
    )
    prod.add_argument(
        "--enforced",
        metavar="FILE",
        help="with --shadow: answer with the flags of this (currently enforced) threshold file",
    )
    prod.add_argument(
        "--actions",
        action="store_true",
        help="add results[i].modkit = {action: allow|review|block|unscored, categories, "
        "profile} to answers (the enforced decision; SDKs keep the extra field)",
    )
    prod.add_argument(
        "--flag-review",
        action="store_true",
        help="answer flagged: true for an item whose action is review too (for consumers that "
        "read only 'flagged', e.g. LiteLLM's guardrail, to refuse review)",
    )
    prod.add_argument(
        "--decision-log",
        metavar="PATH",
        help="append one JSON line per input (time, profile, file sha256, scores, decisions, "
        "latency) to PATH; read it with modkit.read_decision_log or modkit monitor",
    )
    prod.add_argument(
        "--log-text",
        choices=("hash", "store", "drop"),
        default="hash",
        help="what the decision log keeps of each input: its sha256 (default), the text, "
        "or nothing",
    )
    prod.add_argument(
        "--log-rotate-mb",
        type=float,
        metavar="MB",
        help="start a new decision log file past this size (the old one is renamed "
        "PATH.<UTC time>)",
    )
    prod.add_argument(
        "--log-rotate-daily",
        action="store_true",
        help="start a new decision log file each UTC day",
    )
    prod.add_argument(
        "--log-fsync",
        action="store_true",
        help="fsync the decision log after each batch (survives power loss; slower)",
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
    for flag in ("shadow", "enforced", "actions", "decision_log", "flag_review"):
        if getattr(args, flag) and not args.thresholds:
            raise InputError(f"--{flag.replace('_', '-')} needs --thresholds FILE")
    if args.enforced and not args.shadow:
        raise InputError("--enforced needs --shadow (it names the file answers are flagged by)")
    decisions = None
    if args.thresholds:  # a bad file fails here, before the backend loads
        decisions = _decisions(args)
    backend = backend_from_args(args)
    # The cache: --cache PATH always; the default cache only when proxying a remote API
    # (paid, rate-limited, or going away: a cached answer keeps its behaviour).
    cache = None
    remote = backend_spec(args.backend).remote  # its registry entry says
    if not args.no_cache and (args.cache or remote):
        cache = Cache(args.cache) if args.cache else Cache()
    pinned = bool(args.model)  # --model NAME: serve that model only (others: 400)
    app = create_app(
        backend,
        cache=cache,
        api_key=api_key,
        limits=limits,
        pin_model=pinned,
        decisions=decisions,
    )
    print(
        f"modkit serve: backend {backend.name} (model {backend.model}"
        + (", pinned" if pinned else "")
        + ") at "
        f"http://{args.host}:{args.port}/v1"
        + (f", cache {cache.path}" if cache is not None else ", no cache")
        + (f", bearer token from ${args.api_key_env}" if api_key else "")
        + (f", {_mode(args)}" if decisions else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(app, host=args.host, port=args.port, access_log=not args.no_access_log, http=http)
    finally:
        backend.close()  # made here, so closed here
        if cache is not None:
            cache.close()
        if decisions is not None and decisions.log is not None:
            decisions.log.close()  # writes what is queued
    return 0


def _decisions(args: argparse.Namespace) -> DecisionPolicy:
    from .._decision_log import DecisionLog
    from ..server import DecisionPolicy, ThresholdSource

    source = ThresholdSource.load(args.thresholds)
    if args.profile not in source.file.profiles:
        raise InputError(
            f"--profile {args.profile}: {args.thresholds} has no such profile "
            f"(profiles: {', '.join(source.file.profiles)})"
        )
    for ts in source.file.profiles.values():
        print(f"modkit serve: {args.thresholds}: {ts.describe_policy()}", file=sys.stderr)
    enforced = ThresholdSource.load(args.enforced) if args.enforced else None
    if args.log_rotate_mb is not None and not args.log_rotate_mb > 0:
        raise InputError(f"--log-rotate-mb must be > 0; got {args.log_rotate_mb:g}")
    log = None
    if args.decision_log:
        log = DecisionLog(
            args.decision_log,
            rotate_bytes=None
            if args.log_rotate_mb is None
            else max(1, int(args.log_rotate_mb * 1024 * 1024)),
            rotate_daily=args.log_rotate_daily,
            fsync=args.log_fsync,
        )
    return DecisionPolicy(
        source,
        default_profile=args.profile,
        shadow=args.shadow,
        enforced=enforced,
        log=log,
        text=args.log_text,
        actions=args.actions,
        flag_review=args.flag_review,
    )


def _mode(args: argparse.Namespace) -> str:
    if not args.shadow:
        head = f"flags by {args.thresholds} (default profile {args.profile})"
    else:
        by = args.enforced or "the backend's own flags"
        head = f"shadow: answers by {by}, {args.thresholds} recorded (profile {args.profile})"
    if args.decision_log:
        head += f", decision log {args.decision_log} (text {args.log_text})"
    return head


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
