"""Rewrite a moderation result's flags by a threshold set (the ``modkit serve`` hook)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .._errors import InputError
from .._result import ModerationResult
from ._set import ThresholdSet

__all__ = ["threshold_postprocess"]


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

        * ``flagged`` = the set's action for the scores is ``"block"``
          (:meth:`ThresholdSet.decide`, given the result's
          ``category_applied_input_types``: thresholds that differ by input type apply);
        * ``categories[c]`` = ``score >= block`` of category ``c``, for every category
          of the set that the result has a score for (a ``None`` block threshold is
          ``False``: it never fires);
        * every other category in ``categories`` set to ``False``.

        ``category_scores``, ``category_applied_input_types``, ``model`` and ``id``
        are untouched.

    Raises
    ------
    InputError
        When ``ts`` is not a :class:`~modkit.ThresholdSet` (a path, say).

    Notes
    -----
    Categories the file does not hold are reported ``False``, not the endpoint's own
    boolean: the file is the whole policy, so a response never says ``flagged: false``
    while a category says ``true`` (``flagged`` is true exactly when some category is).
    A category in the review band is ``False`` here: the OpenAI response shape has no
    "review" value; call :meth:`ThresholdSet.decide` on the scores to get it.

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
        # The endpoint's own keys: a category the set does not hold (a new upstream one
        # included) is not evaluated, so it is left out rather than refused.
        held = {c: v for c, v in result.category_scores.items() if c in ts.categories}
        applied = result.category_applied_input_types or None  # thresholds by input type
        decision = ts.decide(held, applied)
        blocked = set(decision.blocked_categories)
        keys = dict.fromkeys([*result.categories, *result.category_scores])
        categories = {c: c in blocked for c in keys}
        return dataclasses.replace(result, flagged=decision.flagged, categories=categories)

    postprocess.thresholds = ts  # type: ignore[attr-defined]
    return postprocess
