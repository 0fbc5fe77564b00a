"""A backend that replays moderation results recorded earlier."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from .._errors import InputError
from .._io import iter_jsonl
from .._result import ItemError, ModerationResult
from ._base import SyncBackend

__all__ = ["ReplayBackend", "text_sha256"]


def text_sha256(text: str) -> str:
    """The sha256 hex digest of a text (UTF-8), as replay files and errors name it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReplayBackend(SyncBackend):
    """Answers from results recorded earlier, for reproducible notebooks and tests.

    The file holds one JSON object per line with the text under ``input`` (or
    ``text``, or only its digest under ``input_sha256``), the result object under
    ``result`` (an object or a JSON string) or ``result_json`` (as ``modkit moderate -o
    out.jsonl`` writes it), and optionally ``model`` and ``id``/``moderation_id``. Blank
    lines and failed rows of modkit's output are skipped.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file.

    Raises
    ------
    InputError
        Naming the file (and line), when it is missing, a line is not JSON, a record has
        neither text nor digest, or its result is not a result object.

    Notes
    -----
    A text with no record gets a per-item error naming the text's sha256.

    Examples
    --------
    >>> import json
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modkit.backends import ReplayBackend
    >>> record = {
    ...     "input": "hello",
    ...     "result": {"flagged": False, "categories": {}, "category_scores": {"hate": 0.01}},
    ...     "model": "omni-moderation-2024-09-26",
    ... }
    >>> path = Path(tempfile.mkdtemp()) / "scores.jsonl"
    >>> _ = path.write_text(json.dumps(record) + "\\n", encoding="utf-8")
    >>> backend = ReplayBackend(path)
    >>> backend.model, backend.score(["hello"])[0].category_scores
    ('omni-moderation-2024-09-26', {'hate': 0.01})
    >>> backend.score(["never recorded"])[0].code
    'replay_miss'
    """

    name = "replay"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: replay file not found")
        raw = self.path.read_bytes()
        self._file_sha256 = hashlib.sha256(raw).hexdigest()
        self._records: dict[str, ModerationResult] = {}
        models: set[str] = set()
        for lineno, rec in iter_jsonl(raw.decode("utf-8").split("\n"), self.path):
            where = f"{self.path}:{lineno}"
            digest = _record_digest(rec, where)
            result = rec.get("result", rec.get("result_json"))
            if result == "" and rec.get("error"):
                continue  # a failed row of modkit's own output: nothing was recorded
            if isinstance(result, str):
                try:
                    result = json.loads(result)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: field 'result' is not valid JSON") from exc
            model = str(rec.get("model", "") or "replay")
            models.add(model)
            rid = str(rec.get("id") or rec.get("moderation_id") or f"modr-replay-{digest[:16]}")
            self._records[digest] = ModerationResult.from_dict(
                result, model=model, id=rid, where=f"{where}: field 'result'"
            )
        self.model = models.pop() if len(models) == 1 else "replay"

    @property
    def cache_namespace(self) -> str:
        return f"replay:{self._file_sha256}"

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"ReplayBackend({str(self.path)!r}, records={len(self)})"

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        out: list[ModerationResult | ItemError] = []
        for text in texts:
            digest = text_sha256(text)
            rec = self._records.get(digest)
            if rec is None:
                out.append(
                    ItemError(f"no replay record for text sha256={digest}", code="replay_miss")
                )
            else:
                out.append(rec)
        return out


def _record_digest(rec: dict, where: str) -> str:
    for field in ("input", "text"):
        if field in rec:
            if not isinstance(rec[field], str):
                raise InputError(f"{where}: field {field!r} must be a string")
            return text_sha256(rec[field])
    if isinstance(rec.get("input_sha256"), str):
        return rec["input_sha256"].lower()
    raise InputError(f"{where}: record needs 'input', 'text' or 'input_sha256'")
