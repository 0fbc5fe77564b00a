"""The two encoders the local scorer can run, by name: ``minilm`` and ``multilingual``.

A model folder says which one its heads read in ``model.json`` (``encoder.kind``; a
folder without it is ``minilm``, like every model before the multilingual one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..._errors import InputError

__all__ = [
    "ENCODERS",
    "MULTILINGUAL_DIR",
    "EncoderLike",
    "default_sha256",
    "encoder_kind",
    "make_encoder",
    "shipped_model_dir",
]

#: Encoder names: the default English MiniLM, and multilingual-e5-small (optional extra).
ENCODERS = ("minilm", "multilingual")
#: The folder holding the multilingual model's ``heads.json`` and ``model.json``.
MULTILINGUAL_DIR = Path(__file__).with_name("multilingual")


class EncoderLike(Protocol):
    """What the backend and the training need from an encoder."""

    sha256: str

    def embed(self, texts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Window embeddings and the text each window belongs to."""
        ...


def _check(kind: str, where: str) -> str:
    if kind not in ENCODERS:
        raise InputError(f"{where}: unknown encoder {kind!r}; choose one of {', '.join(ENCODERS)}")
    return kind


def encoder_kind(meta: Mapping[str, Any]) -> str:
    """The encoder a model's metadata (``model.json``) names; ``minilm`` if none.

    Examples
    --------
    >>> from modkit.backends.local._encoders import encoder_kind
    >>> encoder_kind({"encoder": {"kind": "multilingual"}}), encoder_kind({})
    ('multilingual', 'minilm')
    """
    enc = meta.get("encoder")
    kind = enc.get("kind", "minilm") if isinstance(enc, Mapping) else "minilm"
    return _check(str(kind), "model.json encoder.kind")


def shipped_model_dir(kind: str) -> Path | None:
    """The shipped model folder of an encoder (``None``: the default heads).

    Examples
    --------
    >>> from modkit.backends.local._encoders import shipped_model_dir
    >>> shipped_model_dir("minilm") is None, shipped_model_dir("multilingual").name
    (True, 'multilingual')
    """
    return MULTILINGUAL_DIR if _check(kind, "encoder") == "multilingual" else None


def default_sha256(kind: str) -> str:
    """The sha256 the encoder's model file must have.

    Examples
    --------
    >>> from modkit.backends.local._encoders import default_sha256
    >>> default_sha256("minilm")[:8], default_sha256("multilingual")[:8]
    ('15887305', '1571fc98')
    """
    if _check(kind, "encoder") == "multilingual":
        from ._multilingual import MODEL_SHA256 as sha
    else:
        from ._encoder import MODEL_SHA256 as sha
    return sha


def make_encoder(
    kind: str,
    model_path: str | os.PathLike[str] | None = None,
    *,
    expected_sha256: str | None = None,
    threads: int | None = None,
) -> EncoderLike:
    """Load the encoder ``kind`` (its model file checked against its sha256).

    Raises
    ------
    InputError
        For an unknown ``kind``.
    BackendError
        If the model file is missing or tampered with, or (``multilingual``) the extra is
        not installed or the platform is not Linux x86_64.

    Examples
    --------
    >>> from modkit.backends.local._encoders import make_encoder
    >>> make_encoder("minilm").embed(["hello"])[0].shape
    (1, 768)
    """
    sha = expected_sha256 or default_sha256(kind)
    if kind == "multilingual":
        from ._multilingual import MultilingualEncoder

        return MultilingualEncoder(model_path, expected_sha256=sha, threads=threads)
    from ._encoder import Encoder

    return Encoder(model_path, expected_sha256=sha, threads=threads)
