"""Backends by name, for the CLI, the server and ``moderate(backend="...")``."""

from __future__ import annotations

from typing import Any

from ._backend import Backend
from ._errors import InputError

__all__ = ["BACKEND_NAMES", "make_backend"]

BACKEND_NAMES = ("local", "openai", "replay")


def make_backend(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    path: str | None = None,
    **kwargs: Any,
) -> Backend:
    """Build a backend from its name.

    Parameters
    ----------
    name : {"local", "openai", "replay"}
        Which backend.
    model : str, optional
        The model to ask for (``openai``; default ``omni-moderation-latest``).
    base_url, api_key, api_key_env : optional
        For ``openai``: the endpoint and where the key comes from.
    path : str, optional
        For ``replay``: the JSON-lines file of recorded results.
    """
    if name == "local":
        from ._local import LocalBackend

        return LocalBackend(**kwargs)
    if name == "openai":
        return _openai(model, base_url, api_key, api_key_env, **kwargs)
    if name == "replay":
        if not path:
            raise InputError("the replay backend needs a file: --replay PATH (or path=)")
        from ._replay import ReplayBackend

        return ReplayBackend(path)
    raise InputError(f"unknown backend {name!r}: choose one of {', '.join(BACKEND_NAMES)}")


def _openai(
    model: str | None, base_url: str | None, api_key: str | None, api_key_env: str, **kw: Any
) -> Backend:
    from ._openai import OpenAIBackend

    return OpenAIBackend(
        model or "omni-moderation-latest",
        base_url=base_url,
        api_key=api_key,
        api_key_env=api_key_env,
        **kw,
    )
