"""Policy-prompt safety models (gpt-oss-safeguard) on OpenAI-compatible chat endpoints.

A policy-prompt model reads a written policy at inference time, reasons, and answers
with a label. No vendor documents a score; :class:`PolicyBackend` derives one from the
probability of the label token (logprobs) or, when the endpoint gives no logprobs, from
the share of violating labels over k sampled answers.

Source (model card and prompting guide): https://huggingface.co/openai/gpt-oss-safeguard-20b
and https://cookbook.openai.com/articles/gpt-oss-safeguard-guide (harmony format: the
policy in the system/developer message, ``Reasoning: low | medium | high``, the content
to classify as the user's message, the label the policy's output section asks for,
e.g. ``0`` / ``1`` or ``{"violation": 0 | 1, ...}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._result import ItemError, ModerationResult
from .._taxonomy import looks_like_category
from .._validation import MappingOf, SequenceOf, validate_params
from ._chat import ChatModelBackend
from ._verdict import label_probabilities, token_at

__all__ = [
    "REASONING_EFFORTS",
    "SCORE_METHODS",
    "PolicyBackend",
    "PolicyVerdict",
    "parse_policy_answer",
    "read_policies",
]

#: The reasoning efforts harmony knows (``Reasoning: ...`` in the system message).
REASONING_EFFORTS = ("low", "medium", "high")
#: How a score is made: the label token's probability, a vote over k samples, or the
#: first when the endpoint returns logprobs and the second when it does not.
SCORE_METHODS = ("auto", "logprobs", "vote")

_POSITIVE = frozenset({"1", "true", "yes", "unsafe", "violation", "violating"})
_NEGATIVE = frozenset({"0", "false", "no", "safe", "no violation", "non-violating"})
_STRIP = " \t\r\n\"'`.,:;{}[]()*"
_FINAL = re.compile(r"<\|channel\|>\s*final\s*<\|message\|>(.*?)(?:<\|(?:end|return)\|>|$)", re.S)
_JSON_VIOLATION = re.compile(r'"violation"\s*:\s*"?(true|false|1|0)\b', re.I)


def _label(token: str) -> str | None:
    word = token.strip(_STRIP).lower()
    if word in _POSITIVE:
        return "violation"
    if word in _NEGATIVE:
        return "ok"
    return None


@dataclass(frozen=True)
class PolicyVerdict:
    """A label read from a policy model's answer.

    Attributes
    ----------
    violation : bool
        True when the answer says the content violates the policy.
    start, end : int
        The label's characters in the answer text (``text[start:end]``).

    Examples
    --------
    >>> from modkit.backends import parse_policy_answer
    >>> parse_policy_answer('{"violation": 1, "policy_category": "H2"}')
    PolicyVerdict(violation=True, start=14, end=15)
    """

    violation: bool
    start: int
    end: int


def parse_policy_answer(text: object) -> PolicyVerdict | None:
    """The label of a policy model's final answer, or None when there is none.

    Parameters
    ----------
    text : object
        The answer (``message.content``: the harmony final channel). A raw harmony
        string is cut to its ``<|channel|>final<|message|>`` part first.

    Returns
    -------
    PolicyVerdict or None
        Read, in order, from: a ``"violation"`` field (``0`` / ``1``, ``true`` /
        ``false``, quoted or not; the last one when several); or an answer that is one
        label word after stripping spaces, quotes and punctuation (``1``, ``0``,
        ``true``, ``false``, ``yes``, ``no``, ``unsafe``, ``safe``, ``violation``,
        ``violating``, ``no violation``, ``non-violating``; any case). Anything else is
        None: the caller reports a parse error for the row, never a score. Never raises.

    Examples
    --------
    >>> from modkit.backends import parse_policy_answer
    >>> parse_policy_answer(" 0\\n").violation
    False
    >>> parse_policy_answer("I think this is probably fine.") is None
    True
    """
    if not isinstance(text, str):
        return None
    offset = 0
    final = list(_FINAL.finditer(text))
    if final:
        offset = final[-1].start(1)
        text = final[-1].group(1)
    matches = list(_JSON_VIOLATION.finditer(text))
    if matches:
        m = matches[-1]
        value = m.group(1).lower()
        return PolicyVerdict(value in ("1", "true"), offset + m.start(1), offset + m.end(1))
    label = _label(text)
    if label is None:
        return None
    core = text.strip(_STRIP)
    start = text.find(core)
    return PolicyVerdict(label == "violation", offset + start, offset + start + len(core))


@validate_params({"policy": ["path", SequenceOf("path"), MappingOf(str, "path")]})
def read_policies(
    policy: str | Path | Sequence[str | Path] | Mapping[str, str | Path],
) -> dict[str, str]:
    """Category -> policy text, read from files.

    Parameters
    ----------
    policy : path, sequence of paths, or mapping of str to path
        One policy file (its category is the file name without its extension:
        ``hate.md`` -> ``hate``), several, or category -> file (for names a file cannot
        carry, such as ``self-harm/intent``).

    Returns
    -------
    dict of str to str
        Category -> the file's text (UTF-8), in the order given.

    Raises
    ------
    InputError
        Naming the file: missing, unreadable, not UTF-8 or empty; or a category name
        given twice or not spelled like a category (lower case, ``[a-z0-9_-]``, at most
        one ``/``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from modkit.backends import read_policies
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cheating.md").write_text("Flag content that helps cheat.", encoding="utf-8")
    >>> read_policies(folder / "cheating.md")
    {'cheating': 'Flag content that helps cheat.'}
    """
    if isinstance(policy, Mapping):
        pairs = [(str(k), Path(v)) for k, v in policy.items()]
    elif isinstance(policy, (str, Path)):
        pairs = [(Path(policy).stem, Path(policy))]
    else:
        pairs = [(Path(p).stem, Path(p)) for p in policy]
    if not pairs:
        raise InputError("policy: give at least one policy file")
    out: dict[str, str] = {}
    for name, path in pairs:
        if not looks_like_category(name):
            raise InputError(
                f"policy {path}: category name {name!r} must be lower case [a-z0-9_-] "
                "(rename the file, or pass policy={'name': 'file'})"
            )
        if name in out:
            raise InputError(f"policy {path}: category {name!r} given twice")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"policy {path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"policy {path}: not UTF-8 (byte {exc.start})") from None
        except OSError as exc:
            raise InputError(f"policy {path}: cannot read: {exc.strerror or exc}") from None
        if not text.strip():
            raise InputError(f"policy {path}: the file is empty")
        out[name] = text
    return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class _Answer:
    text: str
    tokens: list[dict[str, Any]] | None
    model: str
    id: str


class PolicyBackend(ChatModelBackend):
    """A policy-prompt safety model behind an OpenAI-compatible ``/v1/chat/completions``.

    Parameters
    ----------
    model : str
        The served model (``openai/gpt-oss-safeguard-20b``, ``gpt-oss-safeguard:20b``
        on Ollama, ...).
    base_url : str
        The endpoint, e.g. ``http://127.0.0.1:8000/v1`` (vLLM) or
        ``http://127.0.0.1:11434/v1`` (Ollama).
    policy : path, sequence of paths, or mapping of str to path
        The policy file(s): one category per file (see :func:`read_policies`), one
        request per text and category.
    reasoning_effort : {"low", "medium", "high"}, default "medium"
        Sent as ``reasoning_effort`` (harmony's ``Reasoning:`` line).
    score_method : {"auto", "logprobs", "vote"}, default "auto"
        How a score is made (see Notes).
    votes : int, default 5
        k, the samples of a vote.
    vote_temperature : float, default 1.0
        The sampling temperature of a vote (gpt-oss's recommended 1.0).
    top_logprobs : int, default 5
        Alternatives per position (1-20).
    max_tokens : int, default 4096
        Room for the reasoning and the label.
    api_key : str, optional
        Default ``$api_key_env``; a local endpoint may need none.
    api_key_env : str, default "OPENAI_API_KEY"
        The variable the key is read from.
    timeout : float, default 120
        Seconds per request.

    Raises
    ------
    InputError
        For a missing model, endpoint or policy file, an unknown reasoning effort or
        score method, ``votes`` < 1, or ``top_logprobs`` outside [1, 20].

    Notes
    -----
    Each request sends ``[{"role": "system", "content": <policy>}, {"role": "user",
    "content": <text>}]`` with ``reasoning_effort``; the server renders harmony (the
    system message becomes the developer message holding the policy). The answer's label
    is read by :func:`parse_policy_answer`.

    Scores, per category in [0, 1]:

    * ``logprobs`` (``temperature=0``, ``logprobs=true``): P(violation) = the summed
      probability of the alternatives at the label's token that read as a violating
      label, over those that read as any label (as :class:`GuardBackend` scores
      Yes/No).
    * ``vote``: k answers at ``vote_temperature``; the score is the share of violating
      labels among the answers that parsed (a multiple of 1/k). A vote needs more than
      half of its answers to parse.
    * ``auto``: ``logprobs``; when the endpoint returns none, or they do not cover the
      label, ``vote`` (after one answer without logprobs, the backend asks for votes
      only).

    The method and the policy are part of the result's ``model``:
    ``<served model>@policy-sha256:<hex>+logprobs`` (or ``+vote5``), where ``<hex>`` is
    the sha256 of the policy file's bytes read as UTF-8 (several files: of their
    ``category:sha256`` lines). A policy edit is thus a new snapshot for
    :func:`modkit.decision_drift`, threshold files and ``modkit check``.

    An answer without a label is a per-row error (code ``parse_error``) naming the
    category and the answer's start, never a score; :attr:`parse_counts` and
    :attr:`parse_failure_rate` count them.

    Examples
    --------
    Offline, against a local fake of a policy model:

    >>> import pathlib, tempfile
    >>> import modkit
    >>> from modkit.testing import PolicyModelFake
    >>> policy = pathlib.Path(tempfile.mkdtemp()) / "violence.md"
    >>> _ = policy.write_text("Violence policy. Answer 1 if violating, else 0.", encoding="utf-8")
    >>> with PolicyModelFake() as fake:
    ...     with modkit.backends.PolicyBackend(
    ...         "gpt-oss-safeguard-20b", base_url=fake.url, policy=policy
    ...     ) as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> bool(0 <= df["violence"].iloc[0] <= 1), df["model"].iloc[0].endswith("+logprobs")
    (True, True)
    """

    name = "policy"
    max_batch_size = 8

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        policy: str | Path | Sequence[str | Path] | Mapping[str, str | Path] | None = None,
        reasoning_effort: str = "medium",
        score_method: str = "auto",
        votes: int = 5,
        vote_temperature: float = 1.0,
        top_logprobs: int = 5,
        max_tokens: int = 4096,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
    ) -> None:
        if not model:
            raise InputError("the policy backend needs the served model's name: --model NAME")
        if not base_url:
            raise InputError("the policy backend needs the endpoint: --base-url URL")
        if policy is None:
            raise InputError("the policy backend needs a policy file: -O policy=PATH")
        if reasoning_effort not in REASONING_EFFORTS:
            raise InputError(
                f"reasoning_effort must be one of {REASONING_EFFORTS}, got {reasoning_effort!r}"
            )
        if score_method not in SCORE_METHODS:
            raise InputError(f"score_method must be one of {SCORE_METHODS}, got {score_method!r}")
        if int(votes) < 1:
            raise InputError(f"votes must be >= 1, got {votes!r}")
        if not 1 <= int(top_logprobs) <= 20:
            raise InputError(f"top_logprobs must be in [1, 20], got {top_logprobs!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.policies = read_policies(policy)
        self.policy_sha256 = {c: _sha256(t) for c, t in self.policies.items()}
        if len(self.policies) == 1:
            self.policy_digest = next(iter(self.policy_sha256.values()))
        else:
            lines = "".join(f"{c}:{h}\n" for c, h in self.policy_sha256.items())
            self.policy_digest = _sha256(lines)
        self.reasoning_effort = reasoning_effort
        self.score_method = score_method
        self.votes = int(votes)
        self.vote_temperature = float(vote_temperature)
        self.top_logprobs = int(top_logprobs)
        self.max_tokens = int(max_tokens)
        #: ``answers`` (every answer read) and ``failures`` (answers without a label).
        self.parse_counts: Counter[str] = Counter()
        self._no_logprobs = False  # auto: the endpoint answered without logprobs once
        self._init_client(api_key, api_key_env, timeout)

    @property
    def parse_failure_rate(self) -> float:
        """Share of the answers read so far that held no label (NaN before any)."""
        n = self.parse_counts["answers"]
        return self.parse_counts["failures"] / n if n else float("nan")

    @property
    def cache_namespace(self) -> str:
        return (
            f"policy:{self.base_url}:{self.policy_digest}:{self.reasoning_effort}:"
            f"{self.score_method}:{self.votes}:{self.vote_temperature:g}"
        )

    def __repr__(self) -> str:
        return (
            f"PolicyBackend(model={self.model!r}, policy_sha256={self.policy_digest[:12]!r}, "
            f"reasoning_effort={self.reasoning_effort!r}, base_url={self.base_url!r})"
        )

    def messages(self, category: str, text: str) -> list[dict[str, str]]:
        """The conversation sent to classify ``text`` under ``category``'s policy.

        Parameters
        ----------
        category : str
            A key of :attr:`policies`.
        text : str
            The content to classify.

        Returns
        -------
        list of dict
            The policy as the system message, then ``text`` as the user's.
        """
        return [
            {"role": "system", "content": self.policies[category]},
            {"role": "user", "content": text},
        ]

    async def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError("policy: empty text: nothing to classify", code="empty_text")
        outcomes = await asyncio.gather(*(self._score_category(c, text) for c in self.policies))
        scores: dict[str, float] = {}
        flags: dict[str, bool] = {}
        methods: set[str] = set()
        served, rid = self.model, ""
        for category, outcome in zip(self.policies, outcomes, strict=True):
            if isinstance(outcome, ItemError):
                return outcome
            score, flag, method, answer = outcome
            scores[category], flags[category] = score, flag
            methods.add(method)
            served, rid = answer.model or served, rid or answer.id
        method = "+".join(sorted(methods))
        return ModerationResult(
            flagged=any(flags.values()),
            categories=flags,
            category_scores=scores,
            category_applied_input_types={
                "score_method": [method],
                "policy_sha256": [f"{c}:{h}" for c, h in self.policy_sha256.items()],
            },
            model=f"{served}@policy-sha256:{self.policy_digest}+{method}",
            id=rid,
        )

    def _parse(self, category: str, answer: _Answer) -> PolicyVerdict | ItemError:
        self.parse_counts["answers"] += 1
        verdict = parse_policy_answer(answer.text)
        if verdict is None:
            self.parse_counts["failures"] += 1
            shown = " ".join(answer.text.split())[:60]
            return ItemError(
                f"policy: category {category!r}: the answer holds no label: {shown!r}",
                code="parse_error",
            )
        return verdict

    async def _score_category(
        self, category: str, text: str
    ) -> tuple[float, bool, str, _Answer] | ItemError:
        if self.score_method == "logprobs" or (
            self.score_method == "auto" and not self._no_logprobs
        ):
            answer = await self._complete(category, text, logprobs=True)
            verdict = self._parse(category, answer)
            if isinstance(verdict, ItemError):
                return verdict
            _, p = self.label_score(answer.text, answer.tokens)
            if p is not None:
                return p, verdict.violation, "logprobs", answer
            if not answer.tokens:
                self._no_logprobs = True
            if self.score_method == "logprobs":
                return ItemError(
                    f"policy: category {category!r}: the endpoint's logprobs do not cover "
                    "the label (use score_method='vote' or 'auto')",
                    code="no_logprobs",
                )
        answers = await asyncio.gather(
            *(self._complete(category, text, logprobs=False) for _ in range(self.votes))
        )
        verdicts = [self._parse(category, a) for a in answers]
        parsed = [v for v in verdicts if isinstance(v, PolicyVerdict)]
        if 2 * len(parsed) <= self.votes:
            first = next(v for v in verdicts if isinstance(v, ItemError))
            return ItemError(
                f"{first.message} ({self.votes - len(parsed)} of {self.votes} votes without "
                "a label)",
                code="parse_error",
            )
        share = sum(v.violation for v in parsed) / len(parsed)
        return share, share >= 0.5, f"vote{self.votes}", answers[0]

    @staticmethod
    def label_score(
        content: object, tokens: Sequence[Mapping[str, Any]] | None
    ) -> tuple[PolicyVerdict | None, float | None]:
        """The label of one answer and, from its logprobs, P(violation) (never raises).

        Parameters
        ----------
        content : str
            The answer text (``message.content``).
        tokens : sequence of dict or None
            ``logprobs.content`` (``token``, ``logprob``, ``top_logprobs``); None when the
            endpoint returned none.

        Returns
        -------
        (PolicyVerdict or None, float or None)
            The label (:func:`parse_policy_answer`; None: a parse error) and the
            probability of a violating label at the label's token, in [0, 1] (None
            without a label, without logprobs, or when the tokens do not spell the
            answer or the label's token reads as no label).

        Examples
        --------
        >>> import math
        >>> from modkit.backends import PolicyBackend
        >>> tokens = [{"token": "1", "logprob": math.log(0.7),
        ...            "top_logprobs": [{"token": "0", "logprob": math.log(0.3)}]}]
        >>> verdict, p = PolicyBackend.label_score("1", tokens)
        >>> verdict.violation, round(p, 3)
        (True, 0.7)
        """
        verdict = parse_policy_answer(content)
        if verdict is None or not tokens or not isinstance(content, str):
            return verdict, None
        i = token_at(tokens, content, verdict.start)
        probs = (
            label_probabilities(tokens[i], _label, labels=("violation", "ok"))
            if i is not None
            else None
        )
        return verdict, None if probs is None else probs.get("violation", 0.0)

    async def _complete(self, category: str, text: str, *, logprobs: bool) -> _Answer:
        kwargs: dict[str, Any] = {"temperature": 0.0}
        if logprobs:
            kwargs.update(logprobs=True, top_logprobs=self.top_logprobs)
        else:
            kwargs["temperature"] = self.vote_temperature
        resp = await self._chat_completion(
            model=self.model,
            messages=self.messages(category, text),
            reasoning_effort=self.reasoning_effort,
            max_tokens=self.max_tokens,
            **kwargs,
        )
        choice = resp.choices[0]
        tokens = None
        lp = choice.logprobs
        if lp is not None and lp.content:
            tokens = self._tokens(lp.content)
        return _Answer(
            text=choice.message.content or "",
            tokens=tokens,
            model=str(resp.model or self.model),
            id=str(resp.id or ""),
        )
