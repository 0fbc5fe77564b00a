"""Gentle moves and renames: the old spelling keeps working, with a ``FutureWarning``.

Two tools, both naming the version that removes the old spelling:

* :func:`moved_names`: a module ``__getattr__`` for names that moved to another module
  (``modkit.OpenAIBackend`` -> ``modkit.backends.OpenAIBackend``), imported from their
  new home on first use (PEP 562);
* :func:`renamed_parameter`: a decorator for a keyword renamed in a function's signature
  (``ci_level=`` -> ``confidence_level=``).

``FutureWarning`` rather than ``DeprecationWarning``: the warning is for the users of
the library (shown by default), as pandas and scikit-learn do for their deprecations.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._errors import InputError

__all__ = ["deprecation_message", "moved_names", "renamed_parameter"]

F = TypeVar("F", bound=Callable[..., Any])


def deprecation_message(old: str, new: str, removal: str) -> str:
    """The words of every modkit deprecation warning.

    Parameters
    ----------
    old, new : str
        The old and the new spelling (``"modkit.OpenAIBackend"``).
    removal : str
        The version that removes ``old`` (``"0.3"``).

    Returns
    -------
    str

    Examples
    --------
    >>> from modkit._deprecation import deprecation_message
    >>> deprecation_message("modkit.Scale", "modkit.providers.Scale", "0.3")
    'modkit.Scale is deprecated and will be removed in modkit 0.3: use modkit.providers.Scale'
    """
    return f"{old} is deprecated and will be removed in modkit {removal}: use {new}"


def moved_names(module: str, moved: Mapping[str, str], *, removal: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves moved names from their new module.

    Parameters
    ----------
    module : str
        The module the names were in (``"modkit"``), for the messages.
    moved : mapping of str to str
        Old name -> the new module that holds it under the same name
        (``{"OpenAIBackend": "modkit.backends"}``).
    removal : str
        The version that removes the old names.

    Returns
    -------
    callable
        ``__getattr__(name)``: the object from its new module, after a ``FutureWarning``
        (:func:`deprecation_message`) pointing at the caller's line; ``AttributeError``
        for any other name, as a module without ``__getattr__`` raises.

    Examples
    --------
    >>> import warnings
    >>> from modkit._deprecation import moved_names
    >>> getattr_ = moved_names("mypkg", {"Scale": "modkit.providers"}, removal="0.3")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     scale = getattr_("Scale")
    >>> scale.__name__, caught[0].category.__name__
    ('Scale', 'FutureWarning')
    >>> str(caught[0].message)
    'mypkg.Scale is deprecated and will be removed in modkit 0.3: use modkit.providers.Scale'
    """

    def __getattr__(name: str) -> Any:
        target = moved.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            deprecation_message(f"{module}.{name}", f"{target}.{name}", removal),
            FutureWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(target), name)

    return __getattr__


def renamed_parameter(old: str, new: str, *, removal: str) -> Callable[[F], F]:
    """Decorate a function whose keyword ``old`` is now called ``new``.

    A call with ``old=`` still works: the value is passed as ``new=`` after a
    ``FutureWarning`` (:func:`deprecation_message`) pointing at the caller's line.

    Parameters
    ----------
    old, new : str
        The keyword's old and new names.
    removal : str
        The version that removes ``old``.

    Returns
    -------
    callable
        The decorator; the wrapped function keeps its name, docstring and signature.

    Raises
    ------
    InputError
        (From the wrapped function) when a call gives both ``old`` and ``new``.

    Examples
    --------
    >>> import warnings
    >>> from modkit._deprecation import renamed_parameter
    >>> @renamed_parameter("ci_level", "confidence_level", removal="0.3")
    ... def fit(*, confidence_level=0.95):
    ...     return confidence_level
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = fit(ci_level=0.9)
    >>> value, caught[0].category.__name__
    (0.9, 'FutureWarning')
    >>> fit(ci_level=0.9, confidence_level=0.8)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: fit: give confidence_level only (ci_level is its old name)
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise InputError(f"{func.__name__}: give {new} only ({old} is its old name)")
                warnings.warn(
                    deprecation_message(
                        f"{func.__name__}({old}=...)", f"{func.__name__}({new}=...)", removal
                    ),
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # same signature as func

    return decorate
