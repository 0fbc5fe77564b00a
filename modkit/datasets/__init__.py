"""The dataset registry: named public labelled sets, pinned by URL and sha256.

Files are looked up in the ``data_dir`` argument, ``$MODKIT_DATA_DIR``, then the user
cache, and downloaded into the user cache from their canonical URL when missing (unless
``$MODKIT_OFFLINE=1`` or ``download=False``). Every file is checked against its sha256.

Examples
--------
>>> from modkit.datasets import load_dataset, dataset_info
>>> frame = load_dataset("openai-moderation-1680")  # doctest: +SKIP
>>> dataset_info("hatecheck").attribution  # doctest: +SKIP
"""

from __future__ import annotations

import os
from numbers import Real

import pandas as pd

from .._validation import Interval, validate_params
from ._loaders import LOADERS, read_dataset_file
from ._registry import MHC_LANGUAGES, DatasetFile, DatasetInfo, dataset_info, list_datasets
from ._store import (
    DEFAULT_TIMEOUT,
    FileStatus,
    candidate_dirs,
    dataset_path,
    downloads_allowed,
    file_sha256,
    locate,
    pin_data_dir,
    user_data_dir,
    verify_datasets,
)

__all__ = [
    "MHC_LANGUAGES",
    "DatasetFile",
    "DatasetInfo",
    "FileStatus",
    "candidate_dirs",
    "dataset_info",
    "dataset_path",
    "downloads_allowed",
    "file_sha256",
    "list_datasets",
    "load_dataset",
    "locate",
    "pin_data_dir",
    "read_dataset_file",
    "user_data_dir",
    "verify_datasets",
]


@validate_params(
    {
        "name": [str],
        "part": [None, str],
        "data_dir": [None, "path"],
        "download": [None, "boolean"],
        "mirror": [None, str],
        "timeout": [Interval(Real, 0, None, closed="neither")],
    }
)
def load_dataset(
    name: str,
    part: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    mirror: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Load a registry data set as a DataFrame, after checking the file's sha256.

    Parameters
    ----------
    name : str
        ``"openai-moderation-1680"``, ``"hatecheck"``, ``"simplesafetytests"`` or
        ``"dixon-madlibber"`` (see :func:`list_datasets`).
    part : str, optional
        A part of the data set (default: its first part). ``hatecheck``:
        ``"test_suite_cases"``, ``"template_placeholders"``; ``dixon-madlibber``:
        ``"sentence_templates"``, ``"intersectional_sentence_templates"``, ``"words"``.
    data_dir : str or Path, optional
        A folder searched before ``$MODKIT_DATA_DIR`` and the user cache.
    download : bool, optional
        Whether a file found nowhere may be downloaded. Default: yes, unless
        ``$MODKIT_OFFLINE=1``.
    mirror : str, optional
        A base URL replacing ``https://raw.githubusercontent.com/`` (default
        ``$MODKIT_DATASET_MIRROR``).
    timeout : float, default 60
        Seconds a download may wait for the server.

    Returns
    -------
    pandas.DataFrame
        - ``openai-moderation-1680``: ``text`` and one float column per labelled category
          key (``sexual``, ``hate``, ``violence``, ``harassment``, ``self-harm``,
          ``sexual/minors``, ``hate/threatening``, ``violence/graphic``): 1.0, 0.0, or NaN
          where the row is not labelled in that category.
        - ``hatecheck``: the CSV's columns plus ``text`` (= ``test_case``) and ``label``
          (int, 1 = hateful); part ``template_placeholders``: ``placeholder`` and
          ``values`` (list of str).
        - ``simplesafetytests``: ``id``, ``harm_area``, ``counter``, ``category``,
          ``text``.
        - ``dixon-madlibber``: the CSV's columns.

        Empty CSV cells are NaN; no other text is treated as missing.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        Unknown name or part, a missing or corrupt file, or a failed download.

    Examples
    --------
    With the data sets in ``$MODKIT_DATA_DIR`` (as ``make test`` sets it):

    >>> from modkit.datasets import load_dataset
    >>> cases = load_dataset("hatecheck", download=False)
    >>> len(cases), {"test_case", "label_gold", "target_ident"} <= set(cases.columns)
    (3728, True)
    """
    info = dataset_info(name)
    entry = info.file(part)
    path = dataset_path(
        name, part, data_dir=data_dir, download=download, mirror=mirror, timeout=timeout
    )
    return LOADERS[(info.name, entry.part)](path)
