"""Guard models (Llama Guard, ShieldGemma, Granite Guardian) on OpenAI-compatible chat endpoints.

A guard model answers with a verdict, not a score. Its score is the probability of the
verdict token, which an OpenAI-compatible chat endpoint (vLLM, TGI, Ollama, llama.cpp
server) returns with ``logprobs=true, top_logprobs=k``. How each family's score is
computed is in :class:`GuardBackend`'s notes.

Sources (model cards): Llama Guard 3, https://huggingface.co/meta-llama/Llama-Guard-3-8B
and https://www.llama.com/docs/model-cards-and-prompt-formats/llama-guard-3/ (S1-S14,
"safe" / "unsafe" then the violated codes); Llama Guard 4,
https://huggingface.co/meta-llama/Llama-Guard-4-12B; ShieldGemma,
https://huggingface.co/google/shieldgemma-2b (harm types, policy texts, P(Yes) as the
softmax of the Yes/No logits); Granite Guardian,
https://huggingface.co/ibm-granite/granite-guardian-3.1-2b (``guardian_config`` risk
names, probability of risk from the top-20 logprobs of Yes/No).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from .._conversation import is_conversation
from .._errors import BackendError, InputError, TransientBackendError
from .._result import ItemError, ModerationResult
from ._chat import ChatModelBackend, chat_turns
from ._provider_http import check_mode

__all__ = [
    "GRANITE_RISKS",
    "GUARD_FAMILIES",
    "LLAMA_GUARD_CODES",
    "SHIELDGEMMA2_POLICIES",
    "SHIELDGEMMA_POLICIES",
    "GuardBackend",
    "guard_family",
    "verdict_probability",
]

#: The Llama Guard 3 / 4 hazard codes (MLCommons taxonomy), as the model cards list them.
LLAMA_GUARD_CODES = tuple(f"S{i}" for i in range(1, 15))

#: ShieldGemma's four harm types and their policy text (model card, "prompt" wording;
#: the "response" wording says "The chatbot shall not generate" instead).
SHIELDGEMMA_POLICIES: dict[str, str] = {
    "Dangerous Content": (
        "content that harming oneself and/or others (e.g., accessing or building firearms "
        "and explosive devices, promotion of terrorism, instructions for suicide)."
    ),
    "Harassment": (
        "content that is malicious, intimidating, bullying, or abusive content targeting "
        "another individual (e.g., physical threats, denial of tragic events, disparaging "
        "victims of violence)."
    ),
    "Hate Speech": (
        "content that targeting identity and/or protected attributes (e.g., racial slurs, "
        "promotion of discrimination, calls to violence against protected groups) or "
        "dehumanizing/belittling/vilifying on the bases of race, ethnicity, religion, "
        "disability, age, nationality, veteran status, sexual orientation, gender, gender "
        "identity, caste, or any other protected status."
    ),
    "Sexually Explicit Information": (
        "content that contains references to sexual acts or other lewd content (e.g., "
        "sexually graphic descriptions, content aimed at causing arousal). Medical or "
        "scientific terms related to human anatomy or sex education are permitted."
    ),
}

#: ShieldGemma 2's three image policies (model card, google/shieldgemma-2-4b-it): the
#: policy name and the text put in its prompt instruction.
SHIELDGEMMA2_POLICIES: dict[str, str] = {
    "Sexually Explicit": (
        "The image shall not contain content that depicts explicit or graphic sexual acts "
        "(e.g., pornography, erotic nudity, depictions of rape or sexual assault)."
    ),
    "Dangerous Content": (
        "The image shall not contain content that facilitates or encourages activities "
        "that could cause real-world harm (e.g., building firearms and explosive devices, "
        "promotion of terrorism, instructions for suicide)."
    ),
    "Violence/Gore": (
        "The image shall not contain content that depicts shocking, sensational, or "
        "gratuitous violence (e.g., excessive blood and gore, gratuitous violence against "
        "animals, extreme injury or moment of death)."
    ),
}

#: Granite Guardian's harm risk names (``guardian_config={"risk_name": ...}``).
GRANITE_RISKS = (
    "harm",
    "social_bias",
    "jailbreak",
    "violence",
    "profanity",
    "sexual_content",
    "unethical_behavior",
)

GUARD_FAMILIES = ("llama-guard", "shieldgemma", "granite-guardian", "shieldgemma-2")

#: Models that take image parts in a user message (Llama Guard 4: several per prompt).
_VISION = re.compile(r"llama[-_ ]?guard[-_ ]?4", re.I)

#: ShieldGemma 2's prompt instruction (model card), around one policy.
_SHIELDGEMMA2_PROMPT = (
    "You are a policy expert trying to help determine whether a generated or real image "
    "is in violation of the safety policy below. Your decision must very clearly follow "
    "the specific language used in the safety policy and should not include any "
    "interpretation outside of the safety policy.\n\n<BEGIN_SAFETY_POLICY>\n{policy}\n"
    "</END_SAFETY_POLICY>\n\nDoes the image violate the above policy? Your Answer must "
    "start with 'Yes' or 'No'."
)

_FAMILY_PATTERNS = (
    # ShieldGemma 2 (shieldgemma-2-4b-it), not ShieldGemma 1's 2b / 27b sizes
    ("shieldgemma-2", re.compile(r"shield[-_ ]?gemma[-_ ]?2(?![\db])", re.I)),
    ("llama-guard", re.compile(r"llama[-_ ]?guard", re.I)),
    ("shieldgemma", re.compile(r"shield[-_ ]?gemma", re.I)),
    ("granite-guardian", re.compile(r"granite[\d.]*[-_ ]?guardian", re.I)),
)


def guard_family(model: str) -> str:
    """The guard family a model name belongs to (``llama-guard``, ``shieldgemma``, ...).

    Raises
    ------
    InputError
        If the name matches no family: pass ``family=`` explicitly.
    """
    for family, pattern in _FAMILY_PATTERNS:
        if pattern.search(model):
            return family
    raise InputError(
        f"cannot tell the guard family of model {model!r}: pass family= one of {GUARD_FAMILIES}"
    )


def _norm(token: str) -> str:
    return token.strip().lower()


def _alternatives(position: Any) -> dict[str, float]:
    """Token -> probability at one position: the chosen token and its top_logprobs.

    An alternative without a string token or a numeric logprob is skipped.
    """
    alts = {
        str(t["token"]): float(t["logprob"])
        for t in _listed(position)
        if isinstance(t, Mapping) and _is_logprob(t.get("logprob"))
    }
    if _is_logprob(position.get("logprob")):
        alts.setdefault(str(position["token"]), float(position["logprob"]))
    return {t: math.exp(lp) for t, lp in alts.items()}


def _listed(position: Any) -> list[Any]:
    top = position.get("top_logprobs")
    return top if isinstance(top, list) else []


def _is_logprob(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value <= 0


def _missing_verdicts(
    position: Mapping[str, Any], positive: Sequence[str], negative: Sequence[str]
) -> tuple[list[str], int]:
    """Which verdict sides the alternatives at a verdict position leave out.

    Parameters
    ----------
    position : dict
        One entry of ``choices[0].logprobs.content`` (``token``, ``logprob``,
        ``top_logprobs``), the verdict's.
    positive, negative : sequence of str
        The verdict words, as for :func:`verdict_probability`.

    Returns
    -------
    (list of str, int)
        The first word of each side (positive, negative) that no alternative reads as,
        and how many alternatives besides the chosen token the position lists. With
        both sides present the score is the top-k estimate :func:`verdict_probability`
        documents; with none listed besides the chosen token it carries no signal
        (exactly 0 or 1).
    """
    words = {_norm(t) for t in _alternatives(position)}
    others = {
        str(t.get("token"))
        for t in _listed(position)
        if isinstance(t, Mapping) and _is_logprob(t.get("logprob"))
    } - {str(position.get("token"))}
    missing = [
        side[0] for side in (positive, negative) if side and not words & {_norm(w) for w in side}
    ]
    return missing, len(others)


def verdict_probability(
    content: Sequence[Mapping[str, Any]], positive: Sequence[str], negative: Sequence[str]
) -> tuple[float, int]:
    """P(positive verdict) from chat-completion logprobs, and the verdict's position.

    Parameters
    ----------
    content : sequence of dict
        ``choices[0].logprobs.content``: per generated token ``token``, ``logprob`` and
        ``top_logprobs`` (a list of ``{"token", "logprob"}``).
    positive, negative : sequence of str
        The verdict words, compared after stripping whitespace and lower-casing
        (``("unsafe",)`` / ``("safe",)``, or ``("yes",)`` / ``("no",)``).

    Returns
    -------
    (float, int)
        ``p_pos / (p_pos + p_neg)`` at the first generated position whose chosen token is
        a verdict word, where ``p_pos`` (``p_neg``) sums the probabilities of the
        alternatives at that position that read as a positive (negative) verdict; and
        that position's index. A verdict missing from the top-k counts as probability 0
        (:class:`GuardBackend` bounds such a score instead, with a note).

    Raises
    ------
    TransientBackendError
        If no generated token is a verdict word (a malformed or truncated answer).
    """
    pos, neg = {_norm(p) for p in positive}, {_norm(n) for n in negative}
    for i, position in enumerate(content):
        if _norm(str(position["token"])) not in pos | neg:
            continue
        p_pos = p_neg = 0.0
        for token, p in _alternatives(position).items():
            word = _norm(token)
            if word in pos:
                p_pos += p
            elif word in neg:
                p_neg += p
        return (p_pos / (p_pos + p_neg) if p_pos + p_neg > 0 else math.nan), i
    shown = "".join(str(p["token"]) for p in content)[:40]
    raise TransientBackendError(f"guard: no verdict token in the answer {shown!r}")


def _bounded(
    position: Mapping[str, Any], positive: Sequence[str], negative: Sequence[str]
) -> float:
    """P(positive verdict) at a verdict position where one verdict is not listed.

    The top-k alternatives are the k most probable tokens, so an unlisted verdict's
    probability is at most the least listed one's; the unlisted side gets that bound
    (the score moves toward 0.5 by the least it may, never to exactly 0 or 1).
    """
    pos, neg = {_norm(p) for p in positive}, {_norm(n) for n in negative}
    alts = _alternatives(position)
    floor = min(alts.values())
    p_pos = sum(p for t, p in alts.items() if _norm(t) in pos) or floor
    p_neg = sum(p for t, p in alts.items() if _norm(t) in neg) or floor
    return p_pos / (p_pos + p_neg)


_CODE = re.compile(r"^s(\d{0,2})$")


def _code_distribution(content: Sequence[Mapping[str, Any]], start: int) -> dict[str, float]:
    """Llama Guard: P(code | unsafe) for the first code listed after the verdict.

    The first position after ``start`` whose token reads ``S`` or ``S<digits>`` holds the
    first code; if the tokenizer splits ``S`` from the digits, the next position holds
    the digit alternatives. Alternatives are renormalised over valid codes. Codes listed
    later in the greedy answer get at least the probability of their own token.
    """
    q: dict[str, float] = {}
    j = next(
        (k for k in range(start + 1, len(content)) if _CODE.match(_norm(content[k]["token"]))),
        None,
    )
    if j is None:
        return q
    split = _norm(content[j]["token"]) == "s"
    at = j + 1 if split else j
    if at >= len(content):
        return q
    for token, p in _alternatives(content[at]).items():
        word = _norm(token)
        code = f"S{word}" if split else (f"S{m.group(1)}" if (m := _CODE.match(word)) else "")
        if code in LLAMA_GUARD_CODES:
            q[code] = q.get(code, 0.0) + p
    total = sum(q.values())
    q = {c: p / total for c, p in q.items()} if total > 0 else {}
    # later codes of the greedy answer ("unsafe\nS1,S10")
    k = at + 1
    while k < len(content):
        word = _norm(content[k]["token"])
        if split and word == "s" and k + 1 < len(content):
            k += 1
            word = "s" + _norm(content[k]["token"])
        m = _CODE.match(word.lstrip(","))
        if (
            m
            and m.group(1)
            and f"S{m.group(1)}" in LLAMA_GUARD_CODES
            and _is_logprob(content[k]["logprob"])
        ):
            code = f"S{m.group(1)}"
            q[code] = max(q.get(code, 0.0), math.exp(float(content[k]["logprob"])))
        k += 1
    return q


def _input_types(item: Any) -> list[str]:
    """``["text"]``, ``["image"]`` or ``["text", "image"]``: what an input holds."""
    if isinstance(item, str):
        return ["text"]
    parts: list[Any] = []
    for x in item:
        if isinstance(x, dict) and "role" in x:  # a message
            content = x.get("content")
            parts += [{"type": "text"}] if isinstance(content, str) else list(content or [])
        else:
            parts.append(x)
    kinds = {p.get("type") for p in parts if isinstance(p, dict)}
    return [k for k, t in (("text", "text"), ("image", "image_url")) if t in kinds]


@dataclass
class _Call:
    category: str
    kwargs: dict[str, Any] | None


class GuardBackend(ChatModelBackend):
    """A guard model behind an OpenAI-compatible ``/v1/chat/completions``, scored by logprobs.

    Parameters
    ----------
    model : str
        The served model name (``meta-llama/Llama-Guard-3-8B``, ``google/shieldgemma-2b``,
        ``ibm-granite/granite-guardian-3.1-2b``, ...).
    base_url : str
        The endpoint, e.g. ``http://127.0.0.1:8000/v1`` (vLLM).
    family : {"llama-guard", "shieldgemma", "granite-guardian", "shieldgemma-2"}, optional
        Default: from the model name (:func:`guard_family`; ``shieldgemma-2-4b-it`` is
        ShieldGemma 2, the image classifier, ``shieldgemma-2b`` ShieldGemma 1).
    mode : {"prompt", "response"}, default "prompt"
        Classify each text as the user's message, or as the assistant's answer (after
        ``context`` as the user's message, empty by default).
    context : str, optional
        The user message before an assistant answer (``mode="response"``).
    categories : sequence of str, optional
        ShieldGemma: which harm types of :data:`SHIELDGEMMA_POLICIES` (default all four);
        Granite Guardian: which risks of :data:`GRANITE_RISKS` (default ``["harm"]``). One
        request per text and category.
    top_logprobs : int, default 20
        Alternatives per position (OpenAI's maximum; vLLM's default ``--max-logprobs``).
    api_key : str, optional
        Default ``$api_key_env``; a local endpoint may need none.
    api_key_env : str, default "OPENAI_API_KEY"
        The variable the key is read from.
    timeout : float, default 60
        Seconds per request.

    Raises
    ------
    InputError
        With no ``model`` or ``base_url``, an unknown family or mode, ``top_logprobs``
        outside [1, 20], categories for Llama Guard, or an unknown category.

    Notes
    -----
    The prompt is the model's own chat template, as its model card documents, applied by
    the server: the backend sends the conversation (``[user]`` or ``[user, assistant]``)
    and, where the template takes them, ``chat_template_kwargs``: ShieldGemma's
    ``guideline`` (the harm type's policy text from the model card, ``"No <harm>": The
    prompt shall not contain or seek generation of ...`` or ``The chatbot shall not
    generate ...``) and Granite Guardian's ``guardian_config={"risk_name": ...}``. Llama
    Guard 3 and 4 templates build the S1-S14 policy prompt themselves. Requests use
    ``temperature=0``, ``logprobs=true`` and ``top_logprobs``.

    Scores (see :func:`verdict_probability`):

    * **Llama Guard** (answers ``safe`` or ``unsafe\\nS1,S10``): ``unsafe`` =
      P(unsafe) / (P(unsafe) + P(safe)) at the verdict token. ``S1`` ... ``S14`` =
      ``unsafe`` x P(code | unsafe), the distribution of the first listed code (codes
      listed later in the greedy answer get at least their token's probability). When
      the greedy answer is ``safe`` no code is generated, and the codes score 0: a lower
      bound (each code's true probability is at most ``unsafe``).
    * **ShieldGemma** and **Granite Guardian** (answer ``Yes`` / ``No``): the category's
      score is P(Yes) / (P(Yes) + P(No)) at the first token, summing alternatives that
      read the same after stripping and lower-casing (``Yes``, `` yes``). For ShieldGemma
      this equals the model card's softmax over the Yes and No logits; Granite Guardian's
      card computes the same from the top-20 logprobs.

    ``categories`` / ``flagged`` follow the greedy answer (unsafe / Yes).

    Incomplete alternatives are never a silent 0 or 1: with no ``top_logprobs``
    alternative besides the chosen token the text gets an :class:`ItemError` (code
    ``incomplete_logprobs``); with one verdict not among the alternatives, that verdict
    gets the least listed probability (an upper bound on it) and the result a note.

    **Conversations** (``accepts_conversations``; ``moderate(...,
    conversation="native")``, the default for this backend): the messages are sent as
    they are and the model's template classifies the last one in their context (Llama
    Guard: the last user or assistant turn; ShieldGemma: the response wording when the
    last message is the assistant's). **Images** (``accepts_images``): Llama Guard 4
    (``Llama-Guard-4-*``) takes ``image_url`` parts, several per prompt, in a message's
    content; results then carry ``category_applied_input_types`` (``["text",
    "image"]``) for per-input-type thresholds. ShieldGemma 2 (``shieldgemma-2-4b-it``)
    classifies images against :data:`SHIELDGEMMA2_POLICIES`: its documented interface is
    a Python one (transformers' ``ShieldGemma2ForImageClassification``, which builds the
    model card's prompt instruction around each policy); on a chat endpoint serving its
    Gemma 3 weights, modkit sends that prompt instruction with the image as an
    ``image_url`` part, one request per image and policy, and takes P(Yes) as above
    (max over images; text parts are not classified; ``applied`` = ``["image"]``).

    Examples
    --------
    Offline, against a local fake of a guard model's chat completions:

    >>> import modkit
    >>> from modkit.testing import GuardModelFake
    >>> from modkit.backends import GuardBackend
    >>> with GuardModelFake() as fake:
    ...     with GuardBackend("google/shieldgemma-2b", base_url=fake.url) as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> backend.family, len(modkit.category_columns(df))
    ('shieldgemma', 4)
    >>> bool(df[modkit.category_columns(df)].stack().between(0, 1).all())
    True
    """

    name = "guard"
    max_batch_size = 8
    accepts_conversations = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        family: str | None = None,
        mode: str = "prompt",
        context: str | None = None,
        categories: Sequence[str] | None = None,
        top_logprobs: int = 20,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        if not model:
            raise InputError("the guard backend needs the served model's name: --model NAME")
        if not base_url:
            raise InputError("the guard backend needs the endpoint: --base-url URL")
        self.family = family or guard_family(model)
        if self.family not in GUARD_FAMILIES:
            raise InputError(f"family must be one of {GUARD_FAMILIES}, got {self.family!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.mode = check_mode(mode)
        self.context = context or ""
        if not 1 <= int(top_logprobs) <= 20:
            raise InputError(f"top_logprobs must be in [1, 20], got {top_logprobs!r}")
        self.top_logprobs = int(top_logprobs)
        self.categories = self._check_categories(categories)
        #: Image parts are sent (Llama Guard 4, ShieldGemma 2); other models refuse them.
        self.accepts_images = self.family == "shieldgemma-2" or bool(_VISION.search(model))
        #: ShieldGemma 2 classifies images alone; the others take conversations.
        self.accepts_conversations = self.family != "shieldgemma-2"
        self._init_client(api_key, api_key_env, timeout)

    def _check_categories(self, categories: Sequence[str] | None) -> list[str]:
        if self.family == "llama-guard":
            if categories:
                raise InputError("Llama Guard scores every code S1-S14 in one request")
            return ["unsafe", *LLAMA_GUARD_CODES]
        known: Sequence[str] = {
            "shieldgemma": list(SHIELDGEMMA_POLICIES),
            "shieldgemma-2": list(SHIELDGEMMA2_POLICIES),
        }.get(self.family, GRANITE_RISKS)
        default = list(known) if self.family.startswith("shieldgemma") else ["harm"]
        cats = list(categories) if categories else default
        unknown = [c for c in cats if c not in known]
        if unknown:
            raise InputError(
                f"unknown {self.family} categories {unknown}; choose from {list(known)}"
            )
        return cats

    @property
    def cache_namespace(self) -> str:
        return (
            f"guard:{self.base_url}:{self.family}:{self.mode}:{self.context}:"
            f"{','.join(self.categories)}"
        )

    def __repr__(self) -> str:
        return (
            f"GuardBackend(model={self.model!r}, family={self.family!r}, mode={self.mode!r}, "
            f"base_url={self.base_url!r})"
        )

    # ------------------------------------------------------------------ requests
    def messages(self, text: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The conversation sent for ``text`` (the server's chat template renders it).

        Parameters
        ----------
        text : str, list of parts, or conversation
            The text classified; a multimodal input (text and ``image_url`` parts) is one
            message's content; a conversation (``role`` / ``content`` messages) is sent
            as it is, its last message being the one classified.

        Returns
        -------
        list of dict
            ``[{"role": "user", "content": text}]`` with ``mode="prompt"``; with
            ``mode="response"``, the user's ``context`` then
            ``{"role": "assistant", "content": text}``; a conversation unchanged.
        """
        if is_conversation(text):
            return [{"role": m["role"], "content": m["content"]} for m in cast(list, text)]
        return chat_turns(text, self.mode, self.context)

    def _calls(self, response: bool | None = None) -> list[_Call]:
        if self.family == "llama-guard":
            return [_Call("unsafe", None)]
        if self.family == "shieldgemma-2":
            return [_Call(c, None) for c in self.categories]
        if self.family == "shieldgemma":
            response = self.mode == "response" if response is None else response
            lead = (
                "The chatbot shall not generate "
                if response
                else "The prompt shall not contain or seek generation of "
            )
            return [
                _Call(c, {"guideline": f'"No {c}": {lead}{SHIELDGEMMA_POLICIES[c]}'})
                for c in self.categories
            ]
        return [_Call(c, {"guardian_config": {"risk_name": c}}) for c in self.categories]

    async def _score_one(self, text: Any) -> ModerationResult | ItemError:
        if isinstance(text, str) and not text.strip():
            return ItemError("guard: empty text: nothing to classify", code="empty_text")
        kinds = _input_types(text)
        if self.family == "shieldgemma-2":
            return await self._shieldgemma2(text)
        messages = self.messages(text)
        response = messages[-1]["role"] == "assistant" if is_conversation(text) else None
        calls = self._calls(response)
        answers = await asyncio.gather(*(self._complete(messages, c) for c in calls))
        try:
            result = self._scored(calls, answers)
        except TransientBackendError as exc:
            # no verdict token in a temperature-0 answer: asking again gives the same
            # answer, so the text fails alone (as the label-in-text formats' parse errors
            # do) instead of being retried until the run stops
            return ItemError(str(exc), code="parse_error")
        if isinstance(result, ItemError):
            return result
        if "image" in kinds:  # which input types each category looked at
            applied = {c: list(kinds) for c in result.category_scores}
            result = dataclasses.replace(result, category_applied_input_types=applied)
        return result

    def _scored(
        self, calls: list[_Call], answers: list[dict[str, Any]]
    ) -> ModerationResult | ItemError:
        if self.family == "llama-guard":
            return self._llama_guard(answers[0])
        scores: dict[str, float] = {}
        notes: list[str] = []
        for call, answer in zip(calls, answers, strict=True):
            p = self._yes_probability(answer, call.category, notes)
            if isinstance(p, ItemError):
                return p
            scores[call.category] = p
        flags = {c: p >= 0.5 for c, p in scores.items()}
        return ModerationResult(
            flagged=any(flags.values()),
            categories=flags,
            category_scores=scores,
            model=answers[0]["model"],
            id=answers[0]["id"],
            notes=tuple(notes),
        )

    def _yes_probability(
        self, answer: dict[str, Any], category: str, notes: list[str]
    ) -> float | ItemError:
        """P(Yes) of a Yes/No answer; incomplete alternatives are marked (:meth:`_coverage`).

        Raises
        ------
        TransientBackendError
            No verdict token in the answer (see :func:`verdict_probability`).
        """
        p, i = verdict_probability(answer["content"], ("yes",), ("no",))
        problem = self._coverage(answer["content"][i], ("yes",), ("no",), category)
        if isinstance(problem, ItemError):
            return problem
        if problem:
            notes.append(problem)
            p = _bounded(answer["content"][i], ("yes",), ("no",))
        return p

    async def _shieldgemma2(self, item: Any) -> ModerationResult | ItemError:
        """One request per image and policy (the model card's prompt instruction around
        the policy, the image before it); a policy's score is the max over images."""
        images = (
            [p for p in item if isinstance(p, dict) and p.get("type") == "image_url"]
            if isinstance(item, list)
            else []
        )
        if not images:
            return ItemError(
                "guard: shieldgemma-2 classifies images; this input has no image part",
                code="unsupported_input_type",
            )
        jobs = [(call.category, image) for call in self._calls() for image in images]
        answers = await asyncio.gather(
            *(
                self._complete(
                    [
                        {
                            "role": "user",
                            "content": [
                                image,
                                {
                                    "type": "text",
                                    "text": _SHIELDGEMMA2_PROMPT.format(
                                        policy=f'"No {cat}": {SHIELDGEMMA2_POLICIES[cat]}'
                                    ),
                                },
                            ],
                        }
                    ],
                    _Call(cat, None),
                )
                for cat, image in jobs
            )
        )
        scores: dict[str, float] = {}
        notes: list[str] = []
        for (cat, _), answer in zip(jobs, answers, strict=True):
            try:
                p = self._yes_probability(answer, cat, notes)
            except TransientBackendError as exc:
                return ItemError(str(exc), code="parse_error")
            if isinstance(p, ItemError):
                return p
            scores[cat] = max(scores.get(cat, 0.0), p)
        flags = {c: p >= 0.5 for c, p in scores.items()}
        return ModerationResult(
            flagged=any(flags.values()),
            categories=flags,
            category_scores=scores,
            category_applied_input_types={c: ["image"] for c in scores},
            model=answers[0]["model"],
            id=answers[0]["id"],
            notes=tuple(notes),
        )

    def _llama_guard(self, answer: dict[str, Any]) -> ModerationResult | ItemError:
        content = answer["content"]
        p_unsafe, i = verdict_probability(content, ("unsafe",), ("safe",))
        problem = self._coverage(content[i], ("unsafe",), ("safe",), "unsafe")
        if isinstance(problem, ItemError):
            return problem
        if problem:
            p_unsafe = _bounded(content[i], ("unsafe",), ("safe",))
        greedy_unsafe = _norm(str(content[i]["token"])) == "unsafe"
        q = _code_distribution(content, i) if greedy_unsafe else {}
        scores = {"unsafe": p_unsafe, **{c: p_unsafe * q.get(c, 0.0) for c in LLAMA_GUARD_CODES}}
        listed = set(re.findall(r"S\d{1,2}", answer["text"].split("\n", 1)[-1]))
        flags = {"unsafe": greedy_unsafe}
        flags.update({c: greedy_unsafe and c in listed for c in LLAMA_GUARD_CODES})
        return ModerationResult(
            flagged=greedy_unsafe,
            categories=flags,
            category_scores=scores,
            model=answer["model"],
            id=answer["id"],
            notes=(problem,) if problem else (),
        )

    def _coverage(
        self,
        position: Mapping[str, Any],
        positive: Sequence[str],
        negative: Sequence[str],
        category: str,
    ) -> ItemError | str | None:
        """How complete the alternatives at the verdict are (see :func:`_missing_verdicts`).

        None: both verdicts listed. A note (str): one verdict is not among the listed
        alternatives; its probability is at most the least listed one's, which
        :func:`_bounded` gives it (the score is then a bound, not a 0 or 1, also when
        read back from the cache). An :class:`ItemError` (code
        ``incomplete_logprobs``): no alternative besides the chosen token, so the score
        would be exactly 0 or 1 with no signal; the row fails instead.
        """
        missing, listed = _missing_verdicts(position, positive, negative)
        if not missing:
            return None
        if listed == 0:
            return ItemError(
                f"guard: {category}: the endpoint sent no top_logprobs alternatives at the "
                f"verdict token {str(position.get('token'))!r}: no score (it would be exactly "
                "0 or 1); serve the model with logprobs on (vLLM: --max-logprobs 20)",
                code="incomplete_logprobs",
            )
        return (
            f"guard: {category}: no {missing[0]!r} among the top_logprobs at the verdict: "
            "scored with the least listed probability for it (a bound)"
        )

    async def _complete(self, messages: list[dict[str, Any]], call: _Call) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if call.kwargs is not None:
            extra["chat_template_kwargs"] = call.kwargs
        resp = await self._chat_completion(
            model=self.model,
            messages=messages,
            temperature=0,
            max_tokens=10 if self.family == "llama-guard" else 1,
            logprobs=True,
            top_logprobs=self.top_logprobs,
            extra_body=extra or None,
        )
        choice = resp.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.content:
            raise BackendError(
                "guard: the endpoint returned no logprobs; it must support logprobs=true "
                "and top_logprobs (vLLM, TGI, llama.cpp server and Ollama do)"
            )
        content = [
            {
                # what the server sent, unchecked by the SDK: a token that is not a string
                # reads as "", a logprob that is not a number is skipped where it is used
                "token": t.token if isinstance(t.token, str) else "",
                "logprob": t.logprob,
                "top_logprobs": [
                    {"token": a.token if isinstance(a.token, str) else "", "logprob": a.logprob}
                    for a in (t.top_logprobs or [])
                ],
            }
            for t in lp.content
        ]
        return {
            "content": content,
            "text": choice.message.content or "",
            "model": str(resp.model or self.model),
            "id": str(resp.id or ""),
        }
