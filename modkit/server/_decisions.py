"""What ``modkit serve`` decides, answers and logs per input: enforce or shadow a
threshold file, the ``modkit`` extension field, the per-request profile, the decision log.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._decision_log import LOG_VERSION, TEXT_MODES, DecisionLog, text_fields
from .._errors import InputError
from .._result import ModerationResult
from ..thresholds import Decision, ThresholdFile
from ..thresholds._serve import decide_results, rewrite_result

__all__ = ["PROFILE_HEADER", "DecisionPolicy", "ThresholdSource", "UnknownProfileError"]

#: The request header that picks the threshold file's profile for one request.
PROFILE_HEADER = "X-Modkit-Profile"


class UnknownProfileError(InputError):
    """A request named a profile the threshold file does not hold (answered with 400).

    Examples
    --------
    >>> import modkit
    >>> from modkit.server import DecisionPolicy, ThresholdSource, UnknownProfileError
    >>> file = modkit.ThresholdFile([modkit.ThresholdSet.from_thresholds({"hate": 0.5})])
    >>> policy = DecisionPolicy(ThresholdSource(file))
    >>> try:
    ...     policy.profile_for({"x-modkit-profile": "tenant-7"})
    ... except UnknownProfileError as error:
    ...     print(str(error)[:57])
    unknown profile 'tenant-7' in header X-Modkit-Profile (th
    """


@dataclass(frozen=True)
class ThresholdSource:
    """A loaded threshold file with what the decision log records about it.

    Attributes
    ----------
    file : ThresholdFile
    path : str
        Where it was read from (``"<dict>"`` when built in memory).
    sha256 : str or None
        sha256 of the file's bytes (None when built in memory).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> from modkit.server import ThresholdSource
    >>> path = Path(tempfile.mkdtemp()) / "t.json"
    >>> _ = modkit.ThresholdSet.from_thresholds({"violence": 0.8}).save(path)
    >>> source = ThresholdSource.load(path)
    >>> list(source.file.profiles), len(source.sha256)
    (['input'], 64)
    """

    file: ThresholdFile
    path: str = "<dict>"
    sha256: str | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ThresholdSource:
        """Read and validate a threshold file and hash its bytes.

        Parameters
        ----------
        path : str or path

        Returns
        -------
        ThresholdSource

        Raises
        ------
        InputError
            The file does not exist.
        ThresholdFileError
            It is not a valid threshold file.
        """
        file = ThresholdFile.load(path)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return cls(file, str(path), digest)

    def describe(self) -> dict[str, Any]:
        """What a log record says about the file.

        Returns
        -------
        dict
            ``path``, ``sha256``, ``schema_version`` and ``created``.
        """
        return {
            "path": self.path,
            "sha256": self.sha256,
            "schema_version": self.file.to_dict()["schema_version"],
            "created": self.file.created,
        }


def _backend_decision(result: ModerationResult) -> dict[str, Any]:
    cats = {c: "block" if v else "allow" for c, v in result.categories.items()}
    return {"action": "block" if result.flagged else "allow", "categories": cats}


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "action": decision.action,
        "categories": dict(decision.categories),
        "rules": dict(decision.rules),
    }


class DecisionPolicy:
    """Enforce or shadow a threshold file in ``modkit serve``, and log every decision.

    Parameters
    ----------
    thresholds : ThresholdSource
        The file to decide with (the candidate, in shadow mode).
    default_profile : str, default "input"
        The profile of a request that names none.
    shadow : bool, default False
        Answer with the backend's own flags (or with ``enforced``), and only record
        what ``thresholds`` would have decided.
    enforced : ThresholdSource, optional
        In shadow mode, the file currently enforced (answers are flagged by it). A
        profile it lacks is answered with the backend's own flags.
    log : DecisionLog, optional
        Where to write one record per input.
    text : {"hash", "store", "drop"}, default "hash"
        How records keep the input (``text_sha256``, ``text``, or neither).
    actions : bool, default False
        Add ``results[i].modkit`` to answers: ``action`` (``allow`` / ``review`` /
        ``block`` / ``unscored``) and ``categories`` (category -> action) of the
        enforced decision, and the ``profile``.
    flag_review : bool, default False
        Answer ``flagged: true`` (and the category ``true``) for review as well as block
        (for a consumer that reads only ``flagged``, e.g. LiteLLM, to refuse review).

    Raises
    ------
    InputError
        ``default_profile`` is not a profile of ``thresholds``, ``enforced`` is given
        without ``shadow``, or ``text`` is not one of the modes.

    Examples
    --------
    >>> import modkit
    >>> from modkit.server import DecisionPolicy, ThresholdSource
    >>> file = modkit.ThresholdFile([modkit.ThresholdSet.from_thresholds({"violence": 0.5})])
    >>> policy = DecisionPolicy(ThresholdSource(file), shadow=True, actions=True)
    >>> result = modkit.ModerationResult(
    ...     flagged=False, categories={"violence": False}, category_scores={"violence": 0.7}
    ... )
    >>> answer, records = policy.decide_batch([result], ["hi"], "input", "modr-1", 0.0)
    >>> answer[0]["flagged"], answer[0]["modkit"]["action"], records[0]["decision"]["action"]
    (False, 'allow', 'block')
    """

    def __init__(
        self,
        thresholds: ThresholdSource,
        *,
        default_profile: str = "input",
        shadow: bool = False,
        enforced: ThresholdSource | None = None,
        log: DecisionLog | None = None,
        text: str = "hash",
        actions: bool = False,
        flag_review: bool = False,
    ) -> None:
        if default_profile not in thresholds.file.profiles:
            raise InputError(
                f"{thresholds.path}: no profile {default_profile!r} "
                f"(profiles: {', '.join(thresholds.file.profiles)})"
            )
        if enforced is not None and not shadow:
            raise InputError("an enforced threshold file only applies in shadow mode")
        if text not in TEXT_MODES:
            raise InputError(f"text must be one of {', '.join(TEXT_MODES)}; got {text!r}")
        self.thresholds = thresholds
        self.default_profile = default_profile
        self.shadow = shadow
        self.enforced = enforced
        self.log = log
        self.text = text
        self.actions = actions
        self.flag_review = flag_review
        self._described = thresholds.describe()

    @property
    def profiles(self) -> tuple[str, ...]:
        """The profiles a request may name."""
        return tuple(self.thresholds.file.profiles)

    def profile_for(self, headers: Mapping[str, str]) -> str:
        """The request's profile: its ``X-Modkit-Profile`` header, else the default.

        Parameters
        ----------
        headers : mapping of str to str
            The request's headers (case-insensitive, as Starlette's).

        Returns
        -------
        str

        Raises
        ------
        UnknownProfileError
            The header names a profile the file does not hold (the message names it and
            the file's profiles).
        """
        asked = headers.get(PROFILE_HEADER.lower(), headers.get(PROFILE_HEADER))
        if asked is None or asked.strip() == "":
            return self.default_profile
        asked = asked.strip()
        if asked not in self.thresholds.file.profiles:
            raise UnknownProfileError(
                f"unknown profile {asked!r} in header {PROFILE_HEADER} (this server's "
                f"threshold file has profiles: {', '.join(self.profiles)})"
            )
        return asked

    def _answer(
        self,
        res: ModerationResult,
        decision: Any,
        old: Any,
        enforced_ts: Any,
        profile: str,
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """One item's answer body, the decision it enforces, and where that decision
        comes from (``thresholds``, the ``enforced`` file in shadow mode, or the
        ``backend``)."""
        if not self.shadow:
            shown = rewrite_result(res, decision, review_fires=self.flag_review)
            enforced = _decision_json(decision)
            source = "thresholds"
        elif enforced_ts is not None:
            shown = rewrite_result(res, old, review_fires=self.flag_review)
            enforced, source = _decision_json(old), "enforced"
        else:
            shown, enforced, source = res, _backend_decision(res), "backend"
        body = shown.to_dict()
        if "category_applied_input_types" not in body:
            body["category_applied_input_types"] = {k: ["text"] for k in res.category_scores}
        if self.actions:
            body["modkit"] = {
                "action": enforced["action"],
                "categories": enforced["categories"],
                "profile": profile,
            }
        return body, enforced, source

    def decide_batch(
        self,
        results: Sequence[ModerationResult],
        inputs: Sequence[Any],
        profile: str,
        request_id: str,
        started: float,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Decide one request's results: the answer's results and the log records.

        Parameters
        ----------
        results : sequence of ModerationResult
            The backend's results, one per input.
        inputs : sequence
            The inputs (texts, or a multimodal input's parts), aligned with ``results``.
        profile : str
            The request's profile (:meth:`profile_for`).
        request_id : str
            The response's ``id``.
        started : float
            ``time.monotonic()`` when the request arrived (for ``latency_ms``).

        Returns
        -------
        answer : list of dict
            The results as JSON (``flagged`` and ``categories`` by the enforced
            decision; ``modkit`` when ``actions``).
        records : list of dict
            One decision log record per input (also handed to the log, if any).

        Raises
        ------
        InputError
            When ``inputs`` and ``results`` differ in length.
        """
        if len(inputs) != len(results):
            raise InputError(f"{len(results)} results for {len(inputs)} inputs")
        ts = self.thresholds.file[profile]
        enforced_ts = None
        if self.enforced is not None and profile in self.enforced.file.profiles:
            enforced_ts = self.enforced.file[profile]
        answer: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        decisions = decide_results(ts, results)
        olds = decide_results(enforced_ts, results) if enforced_ts is not None else decisions
        latency = (time.monotonic() - started) * 1000.0
        now = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for i, (res, decision, old) in enumerate(zip(results, decisions, olds, strict=True)):
            body, enforced, source = self._answer(res, decision, old, enforced_ts, profile)
            answer.append(body)
            record: dict[str, Any] = {
                "v": LOG_VERSION,
                "time": now,
                "request_id": request_id,
                "index": i,
                "profile": profile,
                "mode": "shadow" if self.shadow else "enforce",
                "model": res.model,
                "thresholds": self._described,
                **text_fields(inputs[i], self.text),
                "scores": {c: _finite(v) for c, v in res.category_scores.items()},
                "backend_flags": {c: bool(v) for c, v in res.categories.items()},
                "backend_flagged": bool(res.flagged),
                "decision": _decision_json(decision),
                "enforced": {"source": source, **enforced},
                "latency_ms": round(latency, 3),
            }
            if source == "enforced" and self.enforced is not None:
                record["enforced"]["sha256"] = self.enforced.sha256
            records.append(record)
        if self.log is not None:
            self.log.write(records)
        return answer, records


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if v == v and abs(v) != float("inf") else None
