"""What the heads see: pooled token vectors plus two lexical cues and their interactions.

The encoder gives, per window, the L2-normalised mean of its token vectors and their
element-wise maximum (:meth:`Encoder.embed`). A feature set (``heads.json`` ``features``)
turns them into the vector each head's logistic regression reads:

* ``mean``: the normalised mean only (384 values; modkit-local-1);
* ``mean+max+identity+negation``: the mean, the maximum divided by :data:`MAX_SCALE`, then
  for each of two lexical cues (``identity``: the text names a group of people by a
  protected attribute; ``negation``: it contains a negation word) the cue itself and the
  pooled vector multiplied by it (768 * 3 + 2 = 2,306 values). The products let a linear
  head weigh the same words differently when a protected group is named, or when the
  text negates something, which is where a single linear view of a sentence embedding
  reads topic words instead of intent (counter-speech, negated hate, "I would never...").

The cue lists are English word lists written for modkit (:data:`IDENTITY_TERMS`,
:data:`NEGATION_TERMS`), matched on whole words, case-insensitively, over the whole text.

An encoder gives ``dim`` mean columns per window, then (the default encoder) ``dim``
maximum columns; the multilingual encoder gives the mean only, so its heads read
``mean`` (see ``_multilingual.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..._errors import InputError
from ._text import encoder_texts

__all__ = [
    "FEATURE_SETS",
    "IDENTITY_TERMS",
    "MAX_SCALE",
    "NEGATION_TERMS",
    "encoder_inputs",
    "feature_dim",
    "lexical_cues",
    "pooled_features",
    "window_features",
]

#: Words naming groups by a protected attribute (gender, religion, origin, ethnicity,
#: sexual orientation, gender identity, disability), singular and plural.
IDENTITY_TERMS = tuple(
    [
        "women",
        "woman",
        "girls",
        "girl",
        "men",
        "man",
        "females",
        "female",
        "jews",
        "jew",
        "jewish",
        "christians",
        "christian",
        "muslims",
        "muslim",
        "islam",
        "hindus",
        "hindu",
        "sikhs",
        "sikh",
        "buddhists",
        "catholics",
        "catholic",
        "atheists",
        "atheist",
        "immigrants",
        "immigrant",
        "migrants",
        "migrant",
        "refugees",
        "refugee",
        "foreigners",
        "foreigner",
        "black",
        "blacks",
        "white",
        "whites",
        "asians",
        "asian",
        "mexicans",
        "mexican",
        "arabs",
        "arab",
        "roma",
        "latinos",
        "latino",
        "africans",
        "african",
        "indians",
        "indian",
        "chinese",
        "gays",
        "gay",
        "lesbians",
        "lesbian",
        "bisexual",
        "queer",
        "homosexuals",
        "homosexual",
        "trans",
        "transgender",
        "disabled",
        "autistic",
    ]
)
#: Negation words, plus ``n't`` anywhere (contractions: don't, can't, won't, ...).
NEGATION_TERMS = ("not", "never", "no", "nobody", "none", "nothing", "neither", "nor", "without")
#: The max-pooled half is divided by this so both halves have similar scales.
MAX_SCALE = 4.0

_IDENTITY = re.compile(r"\b(?:" + "|".join(map(re.escape, IDENTITY_TERMS)) + r")\b", re.I)
_NEGATION = re.compile(r"\b(?:" + "|".join(NEGATION_TERMS) + r")\b|n't", re.I)

#: Known feature sets and the per-window vector width they start from.
FEATURE_SETS = ("mean", "mean+max+identity+negation")


def feature_dim(features: str, dim: int = 384) -> int:
    """Width of the feature vector of ``features`` over a ``dim``-wide encoder."""
    if features == "mean":
        return dim
    return 3 * (2 * dim) + 2


def _halves(features: str, emb: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean columns and (for feature sets that read it) the maximum columns."""
    e = emb.astype(np.float64)
    if features == "mean":
        return e[:, :dim], e[:, :0]
    if e.shape[1] != 2 * dim:
        raise InputError(
            f"feature set {features!r} needs {2 * dim} columns per window (mean and "
            f"maximum), the encoder gave {e.shape[1]}"
        )
    return e[:, :dim], e[:, dim:]


def encoder_inputs(
    texts: Sequence[str], transforms: Sequence[str] = ()
) -> tuple[list[str], np.ndarray]:
    """What the encoder reads and the lexical cues, from one pass of the rewrites.

    ``transforms`` (a model's ``text_input``, see ``_text.py``) are applied in order.
    The cues are read from each text as it stands before ``blind-identity``; where that
    rewrite is listed and changes the text, the identity cue fires too (a group was named).

    Returns
    -------
    encoder_texts : list of str, length n
    cues : ndarray of shape (n, 2)
        0/1: names a protected group; contains a negation word.
    """
    k = transforms.index("blind-identity") if "blind-identity" in transforms else len(transforms)
    before = encoder_texts(texts, transforms[:k])
    blinded = encoder_texts(before, transforms[k : k + 1])
    out = np.zeros((len(texts), 2), dtype=np.float64)
    for i, (text, read) in enumerate(zip(before, blinded, strict=True)):
        out[i, 0] = read != text or _IDENTITY.search(text) is not None
        out[i, 1] = _NEGATION.search(text.replace("’", "'")) is not None
    return encoder_texts(blinded, transforms[k + 1 :]), out


def lexical_cues(texts: Sequence[str], transforms: Sequence[str] = ()) -> np.ndarray:
    """(n, 2) array of 0/1: names a protected group; contains a negation word (read as
    :func:`encoder_inputs` reads them)."""
    return encoder_inputs(texts, transforms)[1]


def _assemble(features: str, mean: np.ndarray, mx: np.ndarray, cues: np.ndarray) -> np.ndarray:
    """``[base, identity, base * identity, negation, base * negation]`` with ``base = [mean,
    max / MAX_SCALE]``, written into one preallocated array (no temporaries, same floats)."""
    if features == "mean":
        return mean
    d0 = mean.shape[1]
    d = d0 + mx.shape[1]
    x = np.empty((len(mean), 3 * d + 2))
    base = x[:, :d]
    base[:, :d0] = mean
    np.divide(mx, MAX_SCALE, out=base[:, d0:])
    x[:, d] = cues[:, 0]
    np.multiply(base, cues[:, :1], out=x[:, d + 1 : 2 * d + 1])
    x[:, 2 * d + 1] = cues[:, 1]
    np.multiply(base, cues[:, 1:2], out=x[:, 2 * d + 2 :])
    return x


def window_features(
    features: str, emb: np.ndarray, owner: np.ndarray, cues: np.ndarray, *, dim: int = 384
) -> np.ndarray:
    """Feature vector of every window; ``emb`` (n_windows, dim or 2 * dim) from the
    encoder, ``cues`` (n_texts, 2) from :func:`lexical_cues`; shape (n_windows,
    feature_dim)."""
    mean, mx = _halves(features, emb, dim)
    return _assemble(features, mean, mx, cues[owner])


def pooled_features(
    features: str, emb: np.ndarray, owner: np.ndarray, n: int, cues: np.ndarray, *, dim: int = 384
) -> np.ndarray:
    """Feature vector of every text over all its windows: the normalised mean of the
    window means, the maximum of the window maxima; shape (n, feature_dim)."""
    means, maxima = _halves(features, emb, dim)
    mean = np.zeros((n, dim))
    np.add.at(mean, owner, means)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    mx = np.full((n, maxima.shape[1]), -np.inf)
    np.maximum.at(mx, owner, maxima)
    mx[~np.isfinite(mx)] = 0.0
    return _assemble(features, mean, mx, cues)
