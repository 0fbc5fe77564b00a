"""An OpenAI-compatible moderation server around any modkit backend.

>>> from modkit.server import create_app, serve
>>> from modkit.backends import ReplayBackend
>>> serve(ReplayBackend("data/openai-forum-2023.jsonl"), port=8000)  # doctest: +SKIP
"""

from ._app import Postprocess, ServerLimits, create_app
from ._decisions import PROFILE_HEADER, DecisionPolicy, ThresholdSource, UnknownProfileError
from ._http import HTTPOptions
from ._run import ServeProcess, ServerThread, free_port, serve

__all__ = [
    "PROFILE_HEADER",
    "DecisionPolicy",
    "HTTPOptions",
    "Postprocess",
    "ServeProcess",
    "ServerLimits",
    "ServerThread",
    "ThresholdSource",
    "UnknownProfileError",
    "create_app",
    "free_port",
    "serve",
]
