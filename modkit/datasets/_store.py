"""Finding, verifying and downloading registry files.

Lookup order for a file: the ``data_dir`` argument, ``$MODKIT_DATA_DIR``, then the user
cache (``$MODKIT_CACHE_DIR/datasets`` or ``platformdirs.user_cache_dir("modkit")/datasets``).
A file that is found anywhere is always checked against its registered sha256; a file
found nowhere is downloaded into the user cache unless downloads are off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

from .._errors import DatasetError
from .._validation import Interval, SequenceOf, validate_params
from ._registry import DatasetFile, DatasetInfo, dataset_info

__all__ = [
    "DEFAULT_TIMEOUT",
    "FileStatus",
    "candidate_dirs",
    "dataset_path",
    "downloads_allowed",
    "file_sha256",
    "locate",
    "pin_data_dir",
    "user_data_dir",
    "verify_datasets",
]

log = logging.getLogger("modkit.datasets")

#: Seconds a download may wait for the server (connect and each read).
DEFAULT_TIMEOUT = 60.0

_CHUNK = 1 << 20
_MAX_BYTES = 512 << 20  # no registered file comes near this; stops a runaway download

_verified_lock = threading.Lock()
#: (resolved path, size, mtime_ns) -> sha256 hex, so repeated loads do not rehash.
_digests: dict[tuple[str, int, int], str] = {}


def user_data_dir() -> Path:
    """The user cache folder for data sets (``$MODKIT_CACHE_DIR/datasets`` if set).

    Returns
    -------
    pathlib.Path
        ``$MODKIT_CACHE_DIR/datasets``, else ``datasets`` in the platform's user cache
        folder (:func:`platformdirs.user_cache_dir`); it may not exist yet.

    Examples
    --------
    >>> from modkit.datasets import user_data_dir
    >>> user_data_dir().name
    'datasets'
    """
    env = os.environ.get("MODKIT_CACHE_DIR")
    if env:
        return Path(env) / "datasets"
    import platformdirs

    return Path(platformdirs.user_cache_dir("modkit")) / "datasets"


_pin_lock = threading.Lock()
#: The relative value of ``$MODKIT_DATA_DIR`` seen before it was made absolute, the
#: folder it was resolved against and the result (for error messages).
_pinned_from: tuple[str, Path, Path] | None = None


def pin_data_dir() -> Path | None:
    """Make a relative ``$MODKIT_DATA_DIR`` absolute, once, against the current folder.

    A relative value means "relative to where it was set". The first modkit code that
    reads it (the CLI does so before anything else) resolves it against the current
    working directory and writes the absolute path back into ``os.environ``, so that
    notebook kernels and other child processes started later in other folders read the
    same folder.

    Returns
    -------
    pathlib.Path or None
        The absolute folder, or ``None`` when the variable is unset or empty.

    Examples
    --------
    >>> import os
    >>> from pathlib import Path
    >>> from modkit.datasets import pin_data_dir
    >>> pinned = pin_data_dir()
    >>> pinned is None or (pinned.is_absolute() and os.environ["MODKIT_DATA_DIR"] == str(pinned))
    True
    """
    global _pinned_from
    with _pin_lock:
        env = os.environ.get("MODKIT_DATA_DIR", "")
        if not env.strip():
            return None
        folder = Path(env).expanduser()
        if not folder.is_absolute():
            base = Path.cwd()
            folder = Path(os.path.normpath(base / folder))
            _pinned_from = (env, base, folder)
            os.environ["MODKIT_DATA_DIR"] = str(folder)
            log.info("MODKIT_DATA_DIR=%s resolved against %s: %s", env, base, folder)
        return folder


def _where_searched(looked: list[Path]) -> str:
    """The list of places searched, one a line, with how a relative setting was read."""
    lines = [f"  {p}" for p in looked]
    env = os.environ.get("MODKIT_DATA_DIR", "")
    if _pinned_from is not None and env == str(_pinned_from[2]):
        raw, base, _ = _pinned_from
        lines.append(f"  (MODKIT_DATA_DIR={raw} was relative; it was resolved against {base})")
    elif not env.strip():
        lines.append("  (MODKIT_DATA_DIR is not set)")
    return "\n".join(lines)


@validate_params({"data_dir": [None, "path"]})
def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, each with where it came from.

    Parameters
    ----------
    data_dir : str or Path, optional
        A folder to search first.

    Returns
    -------
    list of (str, Path)
        ``(origin, folder)`` pairs; origin is ``"data_dir"``, ``"MODKIT_DATA_DIR"`` or
        ``"user cache"``. A relative ``$MODKIT_DATA_DIR`` is made absolute first (see
        :func:`pin_data_dir`).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> from modkit.datasets import candidate_dirs
    >>> label, folder = candidate_dirs("my-data")[0]
    >>> label, folder.name
    ('data_dir', 'my-data')
    """
    dirs: list[tuple[str, Path]] = []
    if data_dir is not None:
        dirs.append(("data_dir", Path(data_dir).expanduser()))
    env = pin_data_dir()
    if env is not None:
        dirs.append(("MODKIT_DATA_DIR", env))
    dirs.append(("user cache", user_data_dir()))
    return dirs


@validate_params({"download": [None, "boolean"]})
def downloads_allowed(download: bool | None = None) -> bool:
    """Whether a missing file may be downloaded.

    ``download=True`` or ``False`` decides; ``None`` allows it unless ``$MODKIT_OFFLINE``
    is set to ``1``/``true``/``yes``/``on``.

    Parameters
    ----------
    download : bool, optional
        The caller's choice; ``None`` defers to ``$MODKIT_OFFLINE``.

    Returns
    -------
    bool

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> from modkit.datasets import downloads_allowed
    >>> downloads_allowed(False), downloads_allowed(True)
    (False, True)
    """
    if download is not None:
        return bool(download)
    return os.environ.get("MODKIT_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on")


@validate_params({"path": ["path"]})
def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file, streamed, remembered per (path, size, mtime).

    Parameters
    ----------
    path : str or path
        The file.

    Returns
    -------
    str
        64 lower-case hex digits.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        The file cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modkit.datasets import file_sha256
    >>> path = Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    path = Path(path)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        with _verified_lock:
            cached = _digests.get(key)
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    hexdigest = digest.hexdigest()
    with _verified_lock:
        _digests[key] = hexdigest
    return hexdigest


def _check(path: Path, info: DatasetInfo, entry: DatasetFile) -> Path:
    found = file_sha256(path)
    if found != entry.sha256:
        raise DatasetError(
            f"{path}: corrupt or wrong version of {info.name}/{entry.part}: "
            f"expected sha256 {entry.sha256}, found {found}. Fix: delete the file and "
            f"run again to re-download it, or replace it with {entry.url}"
        )
    return path


def _find(
    entry: DatasetFile, data_dir: str | os.PathLike[str] | None
) -> tuple[Path | None, list[Path]]:
    looked: list[Path] = []
    for _origin, folder in candidate_dirs(data_dir):
        candidate = folder / entry.filename
        looked.append(candidate)
        if candidate.is_file():
            return candidate, looked
    return None, looked


def _download(
    info: DatasetInfo,
    entry: DatasetFile,
    *,
    mirror: str | None,
    timeout: float,
    looked: list[Path],
) -> Path:
    searched = f"\nNot found locally; looked in:\n{_where_searched(looked)}"
    url = entry.mirror_url(mirror)
    if not url.startswith(("https://", "http://")):
        raise DatasetError(f"dataset mirror must be an http(s) URL, got {mirror!r}{searched}")
    target = user_data_dir() / entry.filename
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create the data set cache {target.parent}: {exc}{searched}"
        ) from None
    log.info("downloading %s/%s from %s", info.name, entry.part, url)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        total = 0
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "modkit"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    total += len(chunk)
                    if total > _MAX_BYTES:
                        raise DatasetError(f"{url}: download larger than {_MAX_BYTES} bytes")
                    digest.update(chunk)
                    out.write(chunk)
        found = digest.hexdigest()
        if found != entry.sha256:
            raise DatasetError(
                f"{url}: downloaded {info.name}/{entry.part} has sha256 {found}, expected "
                f"{entry.sha256}; nothing was saved. Fix: check the mirror, or fetch "
                f"{entry.url} by hand into a folder named by MODKIT_DATA_DIR{searched}"
            )
        os.replace(tmp, target)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response and its socket
        raise DatasetError(
            f"cannot download {info.name}/{entry.part} from {url}: HTTP {exc.code} "
            f"{exc.reason}{searched}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DatasetError(
            f"cannot download {info.name}/{entry.part} from {url}: {reason}. Fix: set "
            f"MODKIT_DATA_DIR to a folder holding {entry.filename}{searched}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return _check(target, info, entry)


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
def dataset_path(
    name: str,
    part: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    mirror: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """The local path of a registry file, checked against its sha256.

    Parameters
    ----------
    name : str
        A registry name (see :func:`list_datasets`).
    part : str, optional
        A part of the data set (default: its first part).
    data_dir : str or Path, optional
        A folder searched before ``$MODKIT_DATA_DIR`` and the user cache.
    download : bool, optional
        Whether a file found nowhere may be downloaded into the user cache. Default:
        yes, unless ``$MODKIT_OFFLINE=1``.
    mirror : str, optional
        A base URL replacing ``https://raw.githubusercontent.com/`` in the canonical URL
        (default ``$MODKIT_DATASET_MIRROR``).
    timeout : float, default 60
        Seconds a download may wait for the server.

    Returns
    -------
    pathlib.Path
        The verified file. The first file found is used: a corrupt one is an error,
        never silently skipped for another copy.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        Unknown name or part; the file is missing (the message lists every place
        searched and how to get it), corrupt (expected and found sha256), or the download
        failed.

    Examples
    --------
    With the data sets in ``$MODKIT_DATA_DIR`` (as ``make test`` sets it):

    >>> from modkit.datasets import dataset_path
    >>> dataset_path("hatecheck", download=False).name
    'hatecheck-test-suite-cases.csv'
    """
    info = dataset_info(name)
    entry = info.file(part)
    found, looked = _find(entry, data_dir)
    if found is not None:
        return _check(found, info, entry)
    if not downloads_allowed(download):
        places = _where_searched(looked)
        why = "download=False" if download is False else "MODKIT_OFFLINE is set"
        raise DatasetError(
            f"data set file {info.name}/{entry.part} ({entry.filename}) not found; looked in:\n"
            f"{places}\nDownloads are off ({why}). Fix: set MODKIT_DATA_DIR to a folder "
            f"holding {entry.filename}, or allow downloads to fetch {entry.url}"
        )
    if mirror is None:
        mirror = os.environ.get("MODKIT_DATASET_MIRROR") or None
    return _download(info, entry, mirror=mirror, timeout=timeout, looked=looked)


@dataclass(frozen=True)
class FileStatus:
    """The state of one registry file, as reported by :func:`verify_datasets`.

    Attributes
    ----------
    name, part : str
        Which file.
    status : str
        ``"ok"``, ``"missing"`` or ``"corrupt"``.
    path : Path or None
        Where it was found (``None`` if missing).
    message : str
        Details: the error message for a missing or corrupt file, else ``""``.

    Examples
    --------
    >>> from modkit.datasets import FileStatus
    >>> FileStatus("hatecheck", "test_suite_cases", "missing", None, "not found").ok
    False
    """

    name: str
    part: str
    status: str
    path: Path | None
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the file is present and its sha256 matches."""
        return self.status == "ok"


@validate_params({"name": [str], "part": [None, str], "data_dir": [None, "path"]})
def locate(
    name: str, part: str | None = None, *, data_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """Where a registry file would be read from, without checking or downloading it.

    Parameters
    ----------
    name : str
        A registry name (:func:`modkit.datasets.list_datasets`).
    part : str, optional
        One of the data set's parts (default: its default part).
    data_dir : str or path, optional
        A folder searched before ``$MODKIT_DATA_DIR`` and the user cache.

    Returns
    -------
    pathlib.Path or None
        The first file of that name in the folders of :func:`candidate_dirs`, or
        ``None`` when none has it.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        For an unknown data set or part.

    Examples
    --------
    With the data sets in ``$MODKIT_DATA_DIR`` (as ``make test`` sets it):

    >>> from modkit.datasets import locate
    >>> locate("hatecheck", "template_placeholders").name
    'hatecheck-template-placeholders.csv'
    """
    found, _ = _find(dataset_info(name).file(part), data_dir)
    return found


@validate_params({"names": [None, SequenceOf(str)], "data_dir": [None, "path"]})
def verify_datasets(
    names: list[str] | None = None, *, data_dir: str | os.PathLike[str] | None = None
) -> list[FileStatus]:
    """Check every file of the named data sets (default: all) without downloading.

    Parameters
    ----------
    names : list of str, optional
        Registry names; default every registered data set.
    data_dir : str or Path, optional
        A folder searched before ``$MODKIT_DATA_DIR`` and the user cache.

    Returns
    -------
    list of FileStatus
        One per file, in registry order.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        For an unknown name in ``names``.

    Examples
    --------
    With the data sets in ``$MODKIT_DATA_DIR`` (as ``make test`` sets it):

    >>> from modkit.datasets import verify_datasets
    >>> [(s.part, s.status) for s in verify_datasets(["hatecheck"])]
    [('test_suite_cases', 'ok'), ('template_placeholders', 'ok')]
    """
    from ._registry import list_datasets

    infos = list_datasets() if names is None else [dataset_info(n) for n in names]
    statuses = []
    for info in infos:
        for entry in info.files:
            found, looked = _find(entry, data_dir)
            if found is None:
                where = ", ".join(str(p) for p in looked)
                statuses.append(
                    FileStatus(info.name, entry.part, "missing", None, f"not found in: {where}")
                )
                continue
            try:
                digest = file_sha256(found)
            except DatasetError as exc:
                statuses.append(FileStatus(info.name, entry.part, "corrupt", found, str(exc)))
                continue
            if digest != entry.sha256:
                message = f"expected sha256 {entry.sha256}, found {digest}"
                statuses.append(FileStatus(info.name, entry.part, "corrupt", found, message))
            else:
                statuses.append(FileStatus(info.name, entry.part, "ok", found))
    return statuses
