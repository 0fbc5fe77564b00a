"""Multimodal inputs in the moderation endpoint's shape: text parts and image parts.

One multimodal input is a list of parts, ``{"type": "text", "text": ...}`` and
``{"type": "image_url", "image_url": {"url": ...}}``, the url being ``https://``,
``http://`` or a ``data:image/<png|jpeg|gif|webp>;base64,...`` URL (local files are
sent as data URLs). Source of the shape and of which categories apply to images: the
public moderation guide (``omni-moderation`` models; images are scored for the
``self-harm``, ``sexual`` and ``violence`` families except ``sexual/minors``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ._errors import InputError
from ._taxonomy import order_categories
from ._validation import Interval, SequenceOf, StrOptions, validate_params

__all__ = [
    "APPLIED_PREFIX",
    "IMAGE_CATEGORIES",
    "IMAGE_TYPES",
    "applied_input_types",
    "check_parts",
    "image_part",
    "images_in_folder",
    "input_types",
    "multimodal_input",
    "text_part",
    "with_images",
]

#: Categories the ``omni-moderation`` models score on images (the rest: text only).
IMAGE_CATEGORIES: tuple[str, ...] = (
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "violence",
    "violence/graphic",
)

#: File suffix -> MIME type of the image formats the endpoint accepts.
IMAGE_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}

#: Prefix of the columns :func:`applied_input_types` adds (``applied/violence``).
APPLIED_PREFIX = "applied/"

#: Largest image file turned into a data URL (bytes).
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_DATA_URL = re.compile(r"data:(image/(?:png|jpeg|gif|webp));base64,(.*)", re.DOTALL)


def text_part(text: str) -> dict[str, Any]:
    """``{"type": "text", "text": text}``."""
    if not isinstance(text, str):
        raise InputError(f"a text part needs a string, not {type(text).__name__}")
    return {"type": "text", "text": text}


@validate_params({"source": ["path"], "max_bytes": [Interval(Integral, 1, None)]})
def image_part(source: str | os.PathLike[str], *, max_bytes: int = MAX_IMAGE_BYTES) -> dict:
    """An image part from a URL, a data URL, or a local image file (read as a data URL).

    Parameters
    ----------
    source : str or path
        ``https://...`` / ``http://...`` / ``data:image/...;base64,...`` as they are,
        or a path to a ``.png``, ``.jpg``/``.jpeg``, ``.gif`` or ``.webp`` file.
    max_bytes : int, default 20 MiB
        Largest file read, in bytes (``MAX_IMAGE_BYTES``: 20 * 1024 * 1024).

    Returns
    -------
    dict
        ``{"type": "image_url", "image_url": {"url": ...}}``.

    Raises
    ------
    InputError
        Naming the path for a missing, too large or unsupported file, or the value for
        a malformed data URL.

    Examples
    --------
    >>> import base64
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> modkit.images.image_part("https://example.org/cat.png")
    {'type': 'image_url', 'image_url': {'url': 'https://example.org/cat.png'}}
    >>> png = base64.b64decode(
    ...     "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8"
    ...     "AAAAASUVORK5CYII="
    ... )
    >>> path = Path(tempfile.mkdtemp()) / "pixel.png"
    >>> _ = path.write_bytes(png)
    >>> modkit.images.image_part(path)["image_url"]["url"][:22]
    'data:image/png;base64,'
    """
    text = os.fspath(source)
    if text.startswith(("https://", "http://")):
        return {"type": "image_url", "image_url": {"url": text}}
    if text.startswith("data:"):
        _check_data_url(text, "image")
        return {"type": "image_url", "image_url": {"url": text}}
    path = Path(text)
    mime = IMAGE_TYPES.get(path.suffix.lower())
    if mime is None:
        raise InputError(
            f"{path}: not an image the endpoint accepts "
            f"(suffixes: {', '.join(sorted(IMAGE_TYPES))}), nor a URL"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size} bytes, more than the {max_bytes} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the image ({exc.strerror or exc})") from None
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


@validate_params({"text": [None, str]})
def multimodal_input(
    text: str | None = None, images: Iterable[str | os.PathLike[str]] = ()
) -> list[dict[str, Any]]:
    """One multimodal input: an optional text part, then one image part per source.

    Parameters
    ----------
    text : str, optional
        The text part, first when given.
    images : iterable of str or path, default ()
        Image sources, each as :func:`image_part` takes (URL, data URL or image file).

    Returns
    -------
    list of dict
        The content parts, ``{"type": "text", "text": ...}`` then one
        ``{"type": "image_url", "image_url": {"url": ...}}`` per image, in order: the
        ``input`` of one item of the moderation endpoint.

    Raises
    ------
    InputError
        If there is neither text nor image, or an image source is bad (see
        :func:`image_part`).

    Examples
    --------
    >>> import modkit
    >>> parts = modkit.images.multimodal_input("a caption", ["https://example.org/cat.png"])
    >>> [part["type"] for part in parts], parts[0]["text"]
    (['text', 'image_url'], 'a caption')
    >>> modkit.images.multimodal_input()
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: a multimodal input needs a text or at least one image
    """
    parts = [] if text is None else [text_part(text)]
    parts += [image_part(s) for s in images]
    if not parts:
        raise InputError("a multimodal input needs a text or at least one image")
    return parts


@validate_params({"folder": ["path"]})
def images_in_folder(folder: str | os.PathLike[str]) -> list[str]:
    """The image files of a folder as data URLs, sorted by file name.

    Parameters
    ----------
    folder : str or path
        A folder; its files with an image suffix (``.png``, ``.jpg``/``.jpeg``, ``.gif``,
        ``.webp``, case-insensitive) are read, other files and sub-folders are ignored.

    Returns
    -------
    list of str
        One ``data:image/...;base64,...`` URL per image file, sorted by file name.

    Raises
    ------
    InputError
        If the folder does not exist or holds no image file, or a file is larger than
        ``MAX_IMAGE_BYTES`` (20 MiB).

    Examples
    --------
    >>> import base64
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> folder = Path(tempfile.mkdtemp())
    >>> png = base64.b64decode(
    ...     "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8"
    ...     "AAAAASUVORK5CYII="
    ... )
    >>> _ = (folder / "b.png").write_bytes(png)
    >>> _ = (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    >>> [url[:22] for url in modkit.images.images_in_folder(folder)]
    ['data:image/png;base64,']
    """
    return [image_part(p)["image_url"]["url"] for p in image_files(folder)]


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a folder (by suffix, see ``IMAGE_TYPES``), sorted by file name.

    The one folder rule of :func:`images_in_folder`, :func:`with_images` and the image
    slots of templates.

    Raises
    ------
    InputError
        If the folder does not exist or holds no image file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of images")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_TYPES and p.is_file())
    if not files:
        raise InputError(f"{root}: no image files ({', '.join(sorted(IMAGE_TYPES))})")
    return files


@validate_params(
    {
        "frame": [pd.DataFrame],
        "images": ["path", SequenceOf("path")],
        "how": [StrOptions(("product", "zip"))],
        "text_column": [str],
        "input_column": [str],
        "image_column": [str],
    }
)
def with_images(
    frame: pd.DataFrame,
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    how: Literal["product", "zip"] = "product",
    text_column: str = "text",
    input_column: str = "input",
    image_column: str = "image",
) -> pd.DataFrame:
    """Fill an image slot: pair the texts of a frame (e.g. expanded templates) with images.

    Parameters
    ----------
    frame : DataFrame
        Rows with a ``text_column`` (other columns are kept), such as
        :func:`modkit.expand` returns.
    images : folder, or sequence of URLs / paths
        A folder (every image file in it, by name) or a list of ``https://`` / ``data:``
        URLs and image file paths.
    how : {"product", "zip"}, default "product"
        ``"product"``: every row with every image (``len(frame) * n_images`` rows, row
        by row). ``"zip"``: the i-th row with the i-th image (lengths must match).
    text_column, input_column, image_column : str
        Where the text is read, where the multimodal input (text part + image part) is
        written, and where the image's name (file name or URL) is written.

    Returns
    -------
    DataFrame
        The rows with ``input_column`` (one list of parts per row, ready for
        ``moderate(..., text_column=input_column)``) and ``image_column``.

    Raises
    ------
    InputError
        For a missing text column, a column that exists already, no images, unequal
        lengths with ``"zip"``, or a bad image (see :func:`image_part`).

    Examples
    --------
    >>> import modkit
    >>> prompts = modkit.expand("Is this {animal: cat|dog} dangerous?")
    >>> rows = modkit.images.with_images(
    ...     prompts, ["https://example.org/a.png", "https://example.org/b.png"], how="zip"
    ... )
    >>> rows[["text", "image"]]
                            text                      image
    0  Is this cat dangerous?  https://example.org/a.png
    1  Is this dog dangerous?  https://example.org/b.png
    >>> [part["type"] for part in rows.loc[0, "input"]]
    ['text', 'image_url']
    """
    if text_column not in frame.columns:
        raise InputError(f"no {text_column!r} column (columns: {list(frame.columns)[:12]})")
    for name in (input_column, image_column):
        if name in frame.columns:
            raise InputError(f"column {name!r} exists already: pick another name")
    if how not in ("product", "zip"):
        raise InputError(f"how must be 'product' or 'zip', got {how!r}")
    if isinstance(images, str | os.PathLike) and Path(images).is_dir():
        sources: list[Any] = list(image_files(images))
    elif isinstance(images, str | os.PathLike):
        sources = [images]
    else:
        sources = list(images)
    if not sources:
        raise InputError("no images given")
    parts = [image_part(s) for s in sources]
    names = [Path(os.fspath(s)).name if not _is_url(s) else os.fspath(s)[:200] for s in sources]
    base = frame.reset_index(drop=True)
    if how == "zip":
        if len(sources) != len(base):
            raise InputError(
                f"how='zip' pairs row i with image i: {len(base)} rows, {len(sources)} images"
            )
        rows, picks = base, list(range(len(sources)))
    else:
        rows = base.loc[base.index.repeat(len(sources))].reset_index(drop=True)
        picks = list(range(len(sources))) * len(base)
    out = rows.copy()
    texts = rows[text_column].tolist()
    inputs = [
        [text_part(t), parts[j]] if isinstance(t, str) else [parts[j]]
        for t, j in zip(texts, picks, strict=True)
    ]
    out[input_column] = pd.Series(inputs, index=out.index, dtype=object)
    out[image_column] = [names[j] for j in picks]
    return out


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.startswith(("https://", "http://", "data:"))


@validate_params({"results": [pd.DataFrame]})
def applied_input_types(results: pd.DataFrame) -> pd.DataFrame:
    """``category_applied_input_types`` as columns: ``applied/<key>`` per category.

    Parameters
    ----------
    results : DataFrame
        A results frame with a ``result_json`` column (as :func:`modkit.moderate`
        returns).

    Returns
    -------
    DataFrame
        ``results`` with one string column per category the results name, e.g.
        ``applied/violence`` = ``"text,image"``, ``"image"``, ``"text"`` or ``""``
        (applied to nothing); missing (``None``) for a failed row or a model that does
        not say.

    Raises
    ------
    InputError
        If there is no ``result_json`` column, or a value is not a JSON object (naming
        the row).

    Examples
    --------
    One result as the endpoint returns it for a text-and-image input (here the
    deterministic one :class:`modkit.testing.FaultServer` sends):

    >>> import json
    >>> import pandas as pd
    >>> import modkit
    >>> from modkit.testing import fake_multimodal_result
    >>> parts = modkit.images.multimodal_input("a caption", ["https://example.org/cat.png"])
    >>> results = pd.DataFrame({"result_json": [json.dumps(fake_multimodal_result(parts))]})
    >>> modkit.images.applied_input_types(results)[["applied/violence", "applied/harassment"]]
      applied/violence applied/harassment
    0       text,image               text
    """
    if "result_json" not in results.columns:
        raise InputError("no 'result_json' column: pass the frame modkit.moderate returned")
    parsed: list[dict[str, Any] | None] = []
    for idx, raw in results["result_json"].items():
        if not isinstance(raw, str) or not raw:
            parsed.append(None)
            continue
        try:
            body = json.loads(raw)
            applied = body.get("category_applied_input_types")
        except (ValueError, AttributeError):
            raise InputError(f"result_json of row {idx!r} is not a JSON object") from None
        parsed.append(applied if isinstance(applied, dict) else None)
    cats = order_categories({c for p in parsed if p for c in p})
    out = results.copy()
    for c in cats:
        out[APPLIED_PREFIX + c] = pd.Series(
            [",".join(p[c]) if p and isinstance(p.get(c), list) else None for p in parsed],
            index=results.index,
            dtype=object,
        )
    return out


def check_parts(value: Any, where: str = "input") -> list[dict[str, Any]]:
    """Validate one multimodal input (a list of parts) and return it.

    Raises
    ------
    InputError
        Naming the part and field at fault, e.g. ``input[1].image_url.url: ...``.
    """
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not value:
        raise InputError(f"{where}: a multimodal input must be a non-empty list of parts")
    for i, part in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(part, dict):
            raise InputError(f"{at}: a part must be an object, not {type(part).__name__}")
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise InputError(f"{at}.text: must be a string")
        elif kind == "image_url":
            inner = part.get("image_url")
            url = inner.get("url") if isinstance(inner, dict) else None
            if not isinstance(url, str):
                raise InputError(f"{at}.image_url.url: must be a string")
            if url.startswith("data:"):
                _check_data_url(url, f"{at}.image_url.url")
            elif not url.startswith(("https://", "http://")):
                raise InputError(f"{at}.image_url.url: must be an http(s) or data: URL")
        else:
            raise InputError(f"{at}.type: must be 'text' or 'image_url', got {kind!r}")
    return list(value)


def input_types(parts: Sequence[dict[str, Any]]) -> set[str]:
    """Which input types a multimodal input holds: a subset of ``{"text", "image"}``."""
    kinds = {p.get("type") for p in parts if isinstance(p, dict)}
    out = set()
    if "text" in kinds:
        out.add("text")
    if "image_url" in kinds:
        out.add("image")
    return out


def _check_data_url(url: str, where: str) -> None:
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise InputError(
            f"{where}: a data URL must be data:image/<png|jpeg|gif|webp>;base64,<data>"
        )
    try:
        base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: the data URL's base64 payload is not valid") from None
