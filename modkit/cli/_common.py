"""Options shared by the sub-commands that talk to a backend."""

from __future__ import annotations

import argparse

from .._cache import Cache
from ..backends import BACKEND_NAMES, Backend, make_backend

__all__ = ["add_backend_options", "add_cache_options", "backend_from_args", "cache_from_args"]


def add_backend_options(
    parser: argparse.ArgumentParser, *, key_flag: str = "--api-key-env"
) -> None:
    """Add ``--backend --base-url --model --api-key-env --replay``.

    ``key_flag`` renames the option naming the upstream key's variable (``modkit serve``
    uses ``--api-key-env`` for its own bearer token and ``--upstream-api-key-env`` here).
    """
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default="local",
        help="which scorer (default: local, needs no network or key)",
    )
    group.add_argument("--base-url", help="an OpenAI-compatible endpoint (backend openai)")
    group.add_argument(
        "--model", help="model to ask for (backend openai; default omni-moderation-latest)"
    )
    group.add_argument(
        key_flag,
        dest="upstream_key_env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the API key (default OPENAI_API_KEY)",
    )
    group.add_argument("--replay", metavar="PATH", help="recorded results (backend replay)")


def backend_from_args(args: argparse.Namespace, *, api_key_env: str | None = None) -> Backend:
    """Build the backend the options name."""
    options = {"model": args.model, "base_url": args.base_url, "path": args.replay}
    if args.backend == "openai":  # the only backend that reads a key (its flag has a default)
        options["api_key_env"] = api_key_env or args.upstream_key_env
    return make_backend(args.backend, **options)


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache PATH`` and ``--no-cache``."""
    group = parser.add_argument_group("cache")
    group.add_argument(
        "--cache", metavar="PATH", help="sqlite cache file (default: the user cache directory)"
    )
    group.add_argument("--no-cache", action="store_true", help="do not read or write a cache")


def cache_from_args(args: argparse.Namespace) -> Cache | None:
    """Open the cache the options name (``None`` with ``--no-cache``)."""
    if args.no_cache:
        return None
    return Cache(args.cache) if args.cache else Cache()
