"""The one converter of "a ThresholdSet, a number, a mapping or a path" into thresholds."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any

from .._errors import InputError
from .._validation import StrOptions, validate_params
from ._set import PROFILES, ThresholdSet, load_thresholds

__all__ = ["ThresholdsLike", "as_threshold_set"]

#: What every function taking thresholds accepts.
ThresholdsLike = ThresholdSet | float | Mapping[str, Any] | str | os.PathLike[str]


@validate_params(
    {
        "profile": [StrOptions(PROFILES)],
        "what": [str],
        "provider": [None, str],
    }
)
def as_threshold_set(
    thresholds: Any,
    categories: Iterable[str] | None = None,
    *,
    profile: str = "input",
    what: str = "thresholds",
    provider: str | None = None,
) -> ThresholdSet:
    """Turn a ThresholdSet, a number, a mapping or a path into a :class:`ThresholdSet`.

    Parameters
    ----------
    thresholds : ThresholdSet, float, mapping or path
        A set (returned as is); one ``block`` threshold in [0, 1] for every category of
        ``categories``; a mapping ``{category: block}`` or ``{category: {"block": b,
        "review": r}}``; or the path of a threshold file (read with
        :func:`modkit.load_thresholds` and ``profile``).
    categories : iterable of str, optional
        The categories a single number applies to (required for a number).
    profile : {"input", "output"}, default "input"
        The profile read from a file, or given to a set built from numbers.
    what : str, default "thresholds"
        The parameter's name, for error messages.
    provider : str, optional
        For a number or a mapping: the keys are this provider's native categories and
        the numbers lie on its scale (see :meth:`ThresholdSet.from_thresholds`).

    Returns
    -------
    ThresholdSet

    Raises
    ------
    InputError
        A threshold is outside [0, 1] or not a number, a key is not a category key
        (with "did you mean ...?"), a number comes without ``categories``, or the type
        is none of the above. :class:`~modkit.thresholds.ThresholdFileError` for a
        malformed file.

    Examples
    --------
    >>> from modkit.thresholds import as_threshold_set
    >>> as_threshold_set({"violence": 0.5})
    ThresholdSet(profile='input', {violence: review=None block=0.5})
    >>> as_threshold_set(0.5, ["violence", "hate"])["hate"].block
    0.5
    """
    if isinstance(thresholds, ThresholdSet):
        return thresholds
    if isinstance(thresholds, str | os.PathLike):
        if not os.path.isfile(thresholds):
            raise InputError(
                f"{what}: {os.fspath(thresholds)!r} is not a file ({what} must be a "
                "ThresholdSet, a number in [0, 1], a mapping of category to threshold or "
                "the path of a threshold file)"
            )
        return load_thresholds(thresholds, profile=profile)
    if isinstance(thresholds, Real) and not isinstance(thresholds, bool):
        if categories is None:
            raise InputError(f"{what}: a single threshold needs the categories it applies to")
        return ThresholdSet.from_thresholds(
            dict.fromkeys(categories, float(thresholds)), profile=profile, provider=provider
        )
    if isinstance(thresholds, Mapping):
        return ThresholdSet.from_thresholds(thresholds, profile=profile, provider=provider)
    raise InputError(
        f"{what} must be a ThresholdSet, a number in [0, 1], a mapping of category to "
        f"threshold or the path of a threshold file, not {type(thresholds).__name__}"
    )
