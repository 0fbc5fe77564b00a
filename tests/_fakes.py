"""Small deterministic backends shared by the tests (a real `SyncBackend`, not a mock)."""

from __future__ import annotations

import hashlib

from modkit import CATEGORIES, ItemError, ModerationResult
from modkit.backends import SyncBackend


class HashBackend(SyncBackend):
    """Scores from a hash of the text; texts containing ``FAIL`` are rejected.

    The endpoint's own flags deliberately use a cut unrelated to the scores, so a test
    can tell "flag rate at the endpoint's flags" from "flag rate at a threshold".
    """

    name = "hash"
    model = "hash-1"

    def score_batch(self, texts):
        out = []
        for text in texts:
            if "FAIL" in text:
                out.append(ItemError("rejected by test"))
                continue
            digest = hashlib.blake2b(text.encode()).digest()  # 64 bytes
            scores = {c: digest[i] / 255 for i, c in enumerate(CATEGORIES)}
            flags = {c: digest[32 + i] % 3 == 0 for i, c in enumerate(CATEGORIES)}
            out.append(
                ModerationResult(
                    flagged=any(flags.values()),
                    categories=flags,
                    category_scores=scores,
                    model="hash-1",
                    id="modr-test",
                )
            )
        return out
