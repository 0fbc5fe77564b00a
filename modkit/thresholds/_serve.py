"""Rewrite a moderation result's flags by a threshold set (the ``modkit serve`` hook)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .._errors import InputError
from .._result import ModerationResult
from .._validation import validate_params
from ._set import Decision, ThresholdSet

__all__ = ["decide_result", "decide_results", "rewrite_result", "threshold_postprocess"]


@validate_params({"ts": [ThresholdSet]})
def threshold_postprocess(
    ts: ThresholdSet,
) -> Callable[[ModerationResult], ModerationResult]:
    """A ``postprocess`` hook that sets ``flagged`` and ``categories`` from a threshold set.

    Pass the returned callable to :func:`modkit.server.create_app` (``postprocess=``) so
    that an unchanged ``openai`` client receives calibrated flags.

    Parameters
    ----------
    ts : ThresholdSet
        One profile of a threshold file (:func:`modkit.load_thresholds`).

    Returns
    -------
    callable
        ``hook(result) -> result``: a new :class:`~modkit.ModerationResult` with

        * ``categories[c]`` = whether category ``c`` blocks by
          :meth:`ThresholdSet.decide` (given the result's scores, its
          ``category_applied_input_types`` and its own ``categories`` as the backend's
          flags): ``score >= block`` for a category with a threshold; for one without,
          its ``unthresholded`` policy (``backend_flag``: the backend's own flag;
          ``review`` and ``never_flag``: ``False``). A category that could not be
          decided for want of a backend flag (rule ``no_backend_flag``) is ``True``:
          the response shape has no "review", and a consumer that reads only
          ``flagged`` must fail closed;
        * ``flagged`` = any category is ``True``;
        * a key of the result that is not a category of the set's taxonomy (a new
          upstream category) keeps ``False``: it is not evaluated.

        ``category_scores``, ``category_applied_input_types``, ``model`` and ``id``
        are untouched.

    Raises
    ------
    InputError
        When ``ts`` is not a :class:`~modkit.ThresholdSet` (a path, say).

    Notes
    -----
    Categories the file holds no threshold for follow the file's ``unthresholded``
    policy (default: the backend's own flag), so a partial file never turns a
    category the backend flags into ``flagged: false`` unless the file opts out
    (``never_flag``). ``flagged`` is true exactly when some category is. A category
    in the review band is ``False`` here: the OpenAI response shape has no "review"
    value; call :meth:`ThresholdSet.decide` on the scores to get it.

    Examples
    --------
    >>> import modkit
    >>> from modkit.server import create_app
    >>> ts = modkit.load_thresholds("thresholds.json", profile="input")  # doctest: +SKIP
    >>> app = create_app(backend, postprocess=threshold_postprocess(ts))  # doctest: +SKIP
    """
    if not isinstance(ts, ThresholdSet):
        raise InputError(
            f"threshold_postprocess needs a ThresholdSet (see modkit.load_thresholds), "
            f"not {type(ts).__name__}"
        )

    def postprocess(result: ModerationResult) -> ModerationResult:
        return rewrite_result(result, decide_result(ts, result))

    postprocess.thresholds = ts  # type: ignore[attr-defined]
    return postprocess


def decide_result(ts: ThresholdSet, result: ModerationResult) -> Decision:
    """``ts.decide`` of a served result: its scores, applied input types and own flags.

    A key of the result outside the set's taxonomy (a new upstream category) is left
    out rather than refused: it is not evaluated.
    """
    return decide_results(ts, [result])[0]


def decide_results(ts: ThresholdSet, results: Sequence[ModerationResult]) -> list[Decision]:
    """:func:`decide_result` of many results, the rule run once (``ts.decide_many``)."""
    known = set(ts.taxonomy) | set(ts.categories)
    scores, flags, applied = [], [], []
    for result in results:
        scores.append({c: v for c, v in result.category_scores.items() if c in known})
        flags.append({c: bool(v) for c, v in result.categories.items() if c in known})
        applied.append(result.category_applied_input_types or None)
    return ts.decide_many(scores, applied, categories=flags)


def rewrite_result(
    result: ModerationResult, decision: Decision, *, review_fires: bool = False
) -> ModerationResult:
    """The result with ``flagged`` and ``categories`` set from a decision.

    A category is ``True`` when it blocks, or when it could not be decided for want of
    a backend flag (rule ``no_backend_flag``: fail closed, the response shape has no
    "review"), or, with ``review_fires``, when it is in review; ``flagged`` is any of
    them. Scores are untouched.
    """
    fired = set(decision.blocked_categories) | {
        c for c, rule in decision.rules.items() if rule == "no_backend_flag"
    }
    if review_fires:
        fired |= set(decision.review_categories)
    keys = dict.fromkeys([*result.categories, *result.category_scores])
    categories = {c: c in fired for c in keys}
    return dataclasses.replace(result, flagged=bool(fired), categories=categories)
