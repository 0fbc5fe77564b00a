"""Llama-3.1-Nemotron-Safety-Guard (8B v3, Aegis 2.0 taxonomy) on OpenAI-compatible endpoints.

Source (model card): https://huggingface.co/nvidia/Llama-3.1-Nemotron-Safety-Guard-8B-v3 and
the NIM prompt-template page
(https://docs.nvidia.com/nim/llama-3-1-nemotron-safety-guard-8b/prompt-template.md). The
model reads one user message, a prompt that holds the taxonomy and the conversation, and
answers with a JSON object: ``"User Safety"`` (``safe`` / ``unsafe``), ``"Response
Safety"`` (only when the conversation holds a response) and, when unsafe, ``"Safety
Categories"``, a comma-separated list of category names. The prompt template is the
user's file (never shipped here), with ``{query}`` and ``{response}`` placeholders.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import BackendError, InputError
from .._result import ItemError, ModerationResult
from .._validation import StrOptions, validate_params
from ._chat import ChatModelBackend
from ._provider_http import check_mode
from ._verdict import label_probabilities, token_at

__all__ = [
    "NEMOTRON_SAFETY_CATEGORIES",
    "NemotronSafetyAnswer",
    "NemotronSafetyGuardBackend",
    "parse_nemotron_safety",
    "read_prompt_template",
]

#: The Aegis 2.0 categories (S1-S23), as the model writes them.
NEMOTRON_SAFETY_CATEGORIES = (
    "Violence",
    "Sexual",
    "Criminal Planning/Confessions",
    "Guns and Illegal Weapons",
    "Controlled/Regulated Substances",
    "Suicide and Self Harm",
    "Sexual (minor)",
    "Hate/Identity Hate",
    "PII/Privacy",
    "Harassment",
    "Threat",
    "Profanity",
    "Needs Caution",
    "Other",
    "Manipulation",
    "Fraud/Deception",
    "Malware",
    "High Risk Gov Decision Making",
    "Political/Misinformation/Conspiracy",
    "Copyright/Trademark/Plagiarism",
    "Unauthorized Advice",
    "Illegal Activity",
    "Immoral/Unethical",
)

_VERDICT = {
    key: re.compile(r'"' + key + r'"\s*:\s*"\s*(safe|unsafe)\b', re.IGNORECASE)
    for key in ("User Safety", "Response Safety")
}
_CATEGORIES = re.compile(r'"Safety Categories"\s*:\s*"([^"]*)"', re.IGNORECASE)
_CODE = re.compile(r"^S\d+\s*:\s*", re.IGNORECASE)
_NAMES = {c.lower(): c for c in NEMOTRON_SAFETY_CATEGORIES}


@dataclass(frozen=True)
class NemotronSafetyAnswer:
    """What a Nemotron Safety Guard answer says.

    Attributes
    ----------
    user_safety, response_safety : {"safe", "unsafe"} or None
        The ``"User Safety"`` / ``"Response Safety"`` ratings (None when absent).
    user_at, response_at : int or None
        Where each rating word starts in the answer text.
    categories : tuple of str
        The known category names of ``"Safety Categories"``, in the order listed.

    Examples
    --------
    >>> from modkit.backends import parse_nemotron_safety
    >>> a = parse_nemotron_safety('{"User Safety": "unsafe", "Safety Categories": "Violence"}')
    >>> a.user_safety, a.categories
    ('unsafe', ('Violence',))
    """

    user_safety: str | None
    user_at: int | None
    response_safety: str | None = None
    response_at: int | None = None
    categories: tuple[str, ...] = field(default=())


def parse_nemotron_safety(text: object) -> NemotronSafetyAnswer | None:
    """Read a Nemotron Safety Guard answer; None when it holds no safety rating.

    Parameters
    ----------
    text : object
        The answer (``message.content``).

    Returns
    -------
    NemotronSafetyAnswer or None
        The first ``"User Safety"`` and ``"Response Safety"`` ratings (case-insensitive
        keys and values, read as lower case) and the known names of the first ``"Safety
        Categories"`` string (an ``S<n>:`` prefix is dropped, unknown names are
        ignored). None when neither rating is present (the caller reports a parse
        error). Never raises.

    Examples
    --------
    >>> from modkit.backends import parse_nemotron_safety
    >>> answer = parse_nemotron_safety('{"User Safety": "safe", "Response Safety": "unsafe"}')
    >>> answer.user_safety, answer.response_safety
    ('safe', 'unsafe')
    >>> parse_nemotron_safety("I cannot help with that.") is None
    True
    """
    if not isinstance(text, str):
        return None
    found: dict[str, tuple[str, int] | None] = {}
    for key, pattern in _VERDICT.items():
        m = pattern.search(text)
        found[key] = None if m is None else (m.group(1).lower(), m.start(1))
    user, response = found["User Safety"], found["Response Safety"]
    if user is None and response is None:
        return None
    cats: list[str] = []
    c = _CATEGORIES.search(text)
    if c is not None:
        for part in c.group(1).split(","):
            name = _NAMES.get(_CODE.sub("", part.strip()).rstrip(".").strip().lower())
            if name is not None and name not in cats:
                cats.append(name)
    return NemotronSafetyAnswer(
        user_safety=None if user is None else user[0],
        user_at=None if user is None else user[1],
        response_safety=None if response is None else response[0],
        response_at=None if response is None else response[1],
        categories=tuple(cats),
    )


def _rating_of(token: str) -> str | None:
    """``safe`` / ``unsafe`` when the token (without the spaces, quotes and colon around
    it: ``' "unsafe'``, ``'":"safe'``) begins exactly one of them."""
    word = token.strip(' \t\n":').lower()
    if not word:
        return None
    hits = [r for r in ("safe", "unsafe") if r.startswith(word)]
    return hits[0] if len(hits) == 1 else None


@validate_params({"path": ["path"], "mode": [StrOptions(("prompt", "response"))]})
def read_prompt_template(path: str | Path, mode: str = "prompt") -> str:
    """Read a Nemotron Safety Guard prompt template and check its placeholders.

    Parameters
    ----------
    path : str or Path
        A UTF-8 text file: the prompt (taxonomy, conversation, output instruction) with
        ``{query}`` where the user's message goes and ``{response}`` where the
        assistant's response goes. Other braces (the JSON of the output instruction)
        are left as they are.
    mode : {"prompt", "response"}, default "prompt"
        ``"response"`` needs ``{response}`` too.

    Returns
    -------
    str
        The template's text.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, not UTF-8, empty, or without a placeholder
        the mode needs.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = p.write_text("user: {query}")
    >>> read_prompt_template(p)
    'user: {query}'
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"prompt_template {p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"prompt_template {p}: not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"prompt_template {p}: cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise InputError(f"prompt_template {p}: the file is empty")
    needed = ["{query}"] + (["{response}"] if mode == "response" else [])
    for placeholder in needed:
        if placeholder not in text:
            raise InputError(
                f"prompt_template {p}: no {placeholder} placeholder (where the "
                f"{'user message' if placeholder == '{query}' else 'response'} goes)"
            )
    return text


class NemotronSafetyGuardBackend(ChatModelBackend):
    """Llama-3.1-Nemotron-Safety-Guard behind an OpenAI-compatible chat endpoint, with logprobs.

    Parameters
    ----------
    model : str
        The served model (``nvidia/Llama-3.1-Nemotron-Safety-Guard-8B-v3``).
    base_url : str
        The endpoint, e.g. ``http://127.0.0.1:8000/v1`` (vLLM, NIM).
    prompt_template : str or Path
        The prompt template file (see :func:`read_prompt_template`); its sha256 is part
        of the results' ``model`` string, so an edited template is a new snapshot.
    mode : {"prompt", "response"}, default "prompt"
        Classify each text as the user's message (``{query}``; ``{response}``, if the
        template has it, becomes empty), or as the assistant's response (``{response}``,
        after ``context`` as ``{query}``).
    context : str, optional
        The user message before a response (``mode="response"``).
    top_logprobs : int, default 20
        Alternatives per position (1-20).
    api_key : str, optional
        Default ``$api_key_env``; a local endpoint may need none.
    api_key_env : str, default "OPENAI_API_KEY"
        The variable the key is read from.
    timeout : float, default 60
        Seconds per request.

    Raises
    ------
    InputError
        With no model, endpoint or template, a template without the placeholders the
        mode needs (naming the file), an unknown mode, or ``top_logprobs`` outside [1, 20].

    Notes
    -----
    One request per text: the filled template as the only user message
    (``temperature=0``, ``logprobs=true``). The rating read is ``"User Safety"``
    (``mode="prompt"``) or ``"Response Safety"`` (``mode="response"``). Columns,
    probabilities in [0, 1]:

    * ``unsafe``: P(unsafe) at the rating's token, over the alternatives that begin
      exactly one of ``safe`` / ``unsafe`` (quotes and spaces stripped).
    * one column per Aegis 2.0 category (:data:`NEMOTRON_SAFETY_CATEGORIES`):
      ``unsafe`` when the answer lists it and rates the text unsafe, else 0 (a lower
      bound: the model lists categories only for unsafe content).

    An answer without the rating, or whose logprobs do not cover it, or list no
    alternative besides the chosen token, is a per-row error (code ``parse_error``),
    never a 0 or 1; an endpoint that returns no logprobs is an error that says so.

    Examples
    --------
    Offline, against a local fake of the model:

    >>> import pathlib, tempfile
    >>> import modkit
    >>> from modkit.testing import NemotronSafetyGuardFake
    >>> template = pathlib.Path(tempfile.mkdtemp()) / "nemotron.txt"
    >>> _ = template.write_text("user: {query}\\nresponse: agent: {response}\\n")
    >>> with NemotronSafetyGuardFake() as fake:
    ...     with modkit.backends.NemotronSafetyGuardBackend(
    ...         "nvidia/Llama-3.1-Nemotron-Safety-Guard-8B-v3", base_url=fake.url,
    ...         prompt_template=template) as b:
    ...         df = modkit.moderate(["a text"], backend=b, cache=None, progress=False)
    >>> 0.0 <= float(df["unsafe"].iloc[0]) <= 1.0
    True
    """

    name = "nemotron-safety-guard"
    max_batch_size = 8

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        prompt_template: str | Path | None = None,
        mode: str = "prompt",
        context: str | None = None,
        top_logprobs: int = 20,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        if not model:
            raise InputError(
                "the nemotron-safety-guard backend needs the served model's name: --model NAME"
            )
        if not base_url:
            raise InputError("the nemotron-safety-guard backend needs the endpoint: --base-url URL")
        if not prompt_template:
            raise InputError(
                "the nemotron-safety-guard backend needs a prompt template file: "
                "-O prompt_template=PATH"
            )
        if not 1 <= int(top_logprobs) <= 20:
            raise InputError(f"top_logprobs must be in [1, 20], got {top_logprobs!r}")
        self.mode = check_mode(mode)
        self.template = read_prompt_template(prompt_template, self.mode)
        self.template_sha256 = hashlib.sha256(self.template.encode("utf-8")).hexdigest()
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.context = context or ""
        self.top_logprobs = int(top_logprobs)
        self.categories = list(NEMOTRON_SAFETY_CATEGORIES)
        self._init_client(api_key, api_key_env, timeout)

    @property
    def cache_namespace(self) -> str:
        return (
            f"nemotron-safety-guard:{self.base_url}:{self.mode}:{self.context}:"
            f"{self.template_sha256}"
        )

    def __repr__(self) -> str:
        return (
            f"NemotronSafetyGuardBackend(model={self.model!r}, mode={self.mode!r}, "
            f"template_sha256={self.template_sha256[:12]!r}, base_url={self.base_url!r})"
        )

    def prompt(self, text: str) -> str:
        """The filled template sent for ``text``.

        Parameters
        ----------
        text : str
            The text classified.

        Returns
        -------
        str
            The template with ``{query}`` and ``{response}`` replaced (in one pass, so
            braces inside the text are never read as placeholders).
        """
        query, response = (text, "") if self.mode == "prompt" else (self.context, text)
        values = {"{query}": query, "{response}": response}
        return re.sub(r"\{query\}|\{response\}", lambda m: values[m.group(0)], self.template)

    async def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError(
                "nemotron-safety-guard: empty text: nothing to classify", code="empty_text"
            )
        content, tokens, model, rid = await self._complete(text)
        return self.result_of(content, tokens, model=model, id=rid)

    def result_of(
        self,
        content: object,
        tokens: Sequence[Mapping[str, Any]] | None,
        *,
        model: str = "",
        id: str = "",
    ) -> ModerationResult | ItemError:
        """The result for one answer and its logprob tokens (never raises).

        Parameters
        ----------
        content : str
            The answer text.
        tokens : sequence of dict or None
            ``logprobs.content`` (``token``, ``logprob``, ``top_logprobs``).
        model, id : str
            The response's model and id.

        Returns
        -------
        ModerationResult or ItemError
            The scores of the class Notes; an :class:`ItemError` (code
            ``parse_error``) when the rating is missing or its token has no usable
            alternatives.
        """
        key = "User Safety" if self.mode == "prompt" else "Response Safety"
        answer = parse_nemotron_safety(content)
        shown = " ".join(str(content).split())[:60]
        if answer is None:
            return ItemError(
                f"nemotron-safety-guard: the answer holds no safety rating: {shown!r}",
                code="parse_error",
            )
        rating, at = (
            (answer.user_safety, answer.user_at)
            if self.mode == "prompt"
            else (answer.response_safety, answer.response_at)
        )
        if rating is None or at is None:
            return ItemError(
                f"nemotron-safety-guard: the answer holds no {key!r} rating: {shown!r}",
                code="parse_error",
            )
        i = token_at(tokens or [], str(content), at)
        probs = (
            label_probabilities(tokens[i], _rating_of, labels=("safe", "unsafe"))
            if tokens and i is not None
            else None
        )
        if probs is None:
            return ItemError(
                f"nemotron-safety-guard: the logprobs do not cover the {key!r} rating of "
                f"{shown!r} (or list no alternative to it)",
                code="parse_error",
            )
        unsafe = probs.get("unsafe", 0.0)
        flagged = rating == "unsafe"
        listed = set(answer.categories) if flagged else set()
        scores = {"unsafe": unsafe, **{c: unsafe if c in listed else 0.0 for c in self.categories}}
        flags = {"unsafe": flagged, **{c: c in listed for c in self.categories}}
        return ModerationResult(
            flagged=flagged,
            categories=flags,
            category_scores=scores,
            category_applied_input_types={
                "rating": [f"{key}: {rating}"],
                "prompt_template_sha256": [self.template_sha256],
            },
            model=f"{model or self.model}@prompt-template-sha256:{self.template_sha256}",
            id=id,
        )

    async def _complete(self, text: str) -> tuple[str, list[dict[str, Any]] | None, str, str]:
        resp = await self._chat_completion(
            model=self.model,
            messages=[{"role": "user", "content": self.prompt(text)}],
            temperature=0,
            max_tokens=128,
            logprobs=True,
            top_logprobs=self.top_logprobs,
        )
        choice = resp.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.content:
            raise BackendError(
                "nemotron-safety-guard: the endpoint returned no logprobs; it must support "
                "logprobs=true and top_logprobs (vLLM and NIM do)"
            )
        return (
            choice.message.content or "",
            self._tokens(lp.content),
            str(resp.model or self.model),
            str(resp.id or ""),
        )
