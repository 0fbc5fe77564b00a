"""What the encoder reads: named, deterministic rewrites of a text before it is embedded.

A model's ``heads.json`` lists them under ``text_input`` (in order; absent: none), and
:func:`encoder_texts` applies them; the lexical cues of ``_features.py`` are read from
the same rewritten text. Two rewrites exist (:data:`TEXT_TRANSFORMS`):

* ``deobfuscate``: undoes two common ways of dodging a word filter. Letters spaced out
  one by one (``"k i l l"``, three letters or more) are joined (a leading ``"I"`` or
  ``"a"`` and a trailing capital ``"I"`` stay words: ``"I h a t e"``, ``"the next
  w o m a n I see"``, unless the run spells a listed group word: ``"a s i a n"``), and
  the digits and signs of leetspeak (``0 1 3 4 5 7 @ $``) are read as letters *between
  two letters*
  (``"g4y"``, ``"musl1ms"``, ``"1d10t"`` -> ``"1diot"``): ``"3D"``, ``"5pm"``,
  ``"COVID-19"``, ``"b2b"``, URLs and e-mail addresses are left alone. Misspellings and
  dropped letters are not repaired.
* ``blind-identity``: "blindness" in the sense of Garg et al. 2019 ("Counterfactual
  Fairness in Text Classification through Robustness", AIES '19): every term naming a
  group of people by a protected attribute (:data:`GROUP_ADJECTIVES`,
  :data:`GROUP_PLURALS`, :data:`GROUP_SINGULARS`, with any listed adjectives before it)
  is replaced by ``"people"`` (plural) or ``"person"`` (singular; ``"an immigrant"``
  and ``"a Muslim"`` both read ``"a person"``), and so is a listed adjective naming the
  group on its own (``"the Jewish community"``, ``"he is gay"``,
  ``"Muslim-majority"`` -> ``"person"``) except the :data:`COMMON_ADJECTIVES`, which are
  ordinary English words too (``"old car"``, ``"white wine"``), so the encoder gives
  the same vector whichever listed group a text names, and every listed group gets the
  same scores by construction. That a group was named is kept as the ``identity`` cue
  (the cue also fires when this rewrite changed the text). Its limits, as the paper
  says: a group term not on the lists is not neutralised; a listed word used in another
  sense is replaced too ("Christian Bale", "man the station"); "Roma", a plural too, is
  read ``"people"`` on its own ("the Roma community"); and words whose group
  matters for a category are not listed (``girl``, ``boy``: age matters for
  ``sexual/minors``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = [
    "COMMON_ADJECTIVES",
    "GROUP_ADJECTIVES",
    "GROUP_PLURALS",
    "GROUP_SINGULARS",
    "TEXT_TRANSFORMS",
    "blind_identity",
    "deobfuscate",
    "encoder_texts",
]

#: Adjectives naming a protected group; absorbed into the noun they precede
#: ("gay people", "a Black man", "old Roma" are one group term each).
GROUP_ADJECTIVES = (
    "Jewish",
    "Christian",
    "Muslim",
    "Hindu",
    "Sikh",
    "Buddhist",
    "Catholic",
    "atheist",
    "immigrant",
    "migrant",
    "refugee",
    "foreign",
    "Black",
    "white",
    "Asian",
    "Mexican",
    "Arab",
    "Roma",
    "Latino",
    "Latina",
    "African",
    "Indian",
    "Chinese",
    "gay",
    "lesbian",
    "bisexual",
    "queer",
    "homosexual",
    "trans",
    "transgender",
    "disabled",
    "autistic",
    "old",
    "elderly",
)
#: Plural nouns naming a group; after a listed adjective also ``people``, ``folks``,
#: ``persons``.
GROUP_PLURALS = (
    "women",
    "men",
    "Jews",
    "Christians",
    "Muslims",
    "Hindus",
    "Sikhs",
    "Buddhists",
    "Catholics",
    "atheists",
    "immigrants",
    "migrants",
    "refugees",
    "foreigners",
    "blacks",
    "whites",
    "Asians",
    "Mexicans",
    "Arabs",
    "Roma",
    "Latinos",
    "Latinas",
    "Africans",
    "Indians",
    "gays",
    "lesbians",
    "bisexuals",
    "homosexuals",
    "queers",
    "transgenders",
)
#: Singular nouns naming a member of a group; after a listed adjective also ``person``.
GROUP_SINGULARS = (
    "woman",
    "man",
    "Jew",
    "Christian",
    "Muslim",
    "Hindu",
    "Sikh",
    "Buddhist",
    "Catholic",
    "atheist",
    "immigrant",
    "migrant",
    "refugee",
    "foreigner",
    "Asian",
    "Mexican",
    "Arab",
    "Latino",
    "Latina",
    "African",
    "Indian",
    "lesbian",
    "homosexual",
)


def _alternation(words: Sequence[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


#: Listed adjectives that are also ordinary English words ("old car", "white wine",
#: "foreign policy", "trans fats"): read as a group only before a listed noun or a head
#: noun. Every other listed adjective also names the group on its own ("the Jewish
#: community", "he is gay", "Muslim-majority") and is read as ``person`` there, as the
#: listed singular nouns that double as adjectives ("Muslim", "Asian") always were.
COMMON_ADJECTIVES = ("old", "elderly", "white", "Black", "foreign", "trans", "disabled")

_ADJ = rf"(?:(?:{_alternation(GROUP_ADJECTIVES)})\s+)"
_LONE = sorted({a.lower() for a in GROUP_ADJECTIVES} - {a.lower() for a in COMMON_ADJECTIVES})
#: At most four adjectives before a noun: an unbounded chain made a text of repeated
#: adjectives ("old old old ...", 8,000 characters) take 4 s, quadratic in its length.
#: One pass, the longest reading first: adjectives + a head noun, as many adjectives as
#: fit + a listed noun ("old Roma woman" and "old Christian women" are one term each), a
#: listed noun, then a group adjective on its own.
_GROUP = re.compile(
    rf"\b(?:(?P<an>an)(?P<gap>\s+))?"
    rf"(?:(?P<heads>{_ADJ}{{1,4}}(?:people|folks|persons))|{_ADJ}{{1,4}}person"
    rf"|{_ADJ}{{1,4}}(?:(?P<adj_nouns>{_alternation(GROUP_PLURALS)})"
    rf"|{_alternation(GROUP_SINGULARS)})"
    rf"|(?P<nouns>{_alternation(GROUP_PLURALS)})"
    rf"|{_alternation(GROUP_SINGULARS)}"
    rf"|{_ADJ}{{0,4}}(?:{_alternation(_LONE)}))\b"
    # a possessive: "women's", "Muslim's", "Muslims' rights" (an apostrophe after a
    # plural in s is a possessive only before a word; else it may close a quotation)
    r"(?:(?P<poss>['\u2019])(?P<poss_s>s\b)?)?",
    re.I,
)


def _neutral(m: re.Match[str]) -> str:
    plural = m.group("heads") or m.group("adj_nouns") or m.group("nouns")
    # "an immigrant" and "a Muslim" read alike: "a person", the article's case kept
    article = m.group("an")[0] + m.group("gap") if m.group("an") else ""
    return article + ("people" if plural else "person") + _possessive(m)


def _possessive(m: re.Match[str]) -> str:
    """``'s`` in lower case for any possessive ("WOMEN'S", "Muslims' rights" read
    "people's"), the apostrophe as written otherwise."""
    poss = m.group("poss") or ""
    if not poss or m.group("poss_s"):
        return poss and poss + "s"
    after_s = m.string[m.start("poss") - 1] in "sS"
    before_word = re.match(r"\s+[A-Za-z]", m.string[m.end() :]) is not None
    return poss + "s" if after_s and before_word else poss


_LISTED = frozenset(w.lower() for w in (*GROUP_ADJECTIVES, *GROUP_PLURALS, *GROUP_SINGULARS))
_LEET = str.maketrans(dict(zip("013457@$", "oieastas", strict=True)))
_INNER_LEET = re.compile(r"(?<=[A-Za-z])[013457@$]+(?=[A-Za-z])")
#: Left as written by :func:`deobfuscate`: URLs (with a scheme or ``www.``) and e-mail
#: addresses, whose digits and ``@`` are not leetspeak. Each starts where a token does
#: (else a long word would be scanned from each of its letters: quadratic).
_VERBATIM = re.compile(
    r"(?:(?<=[\s<>()\[\]{}\"'\u2019,;:])|^)"
    r"((?:[a-z][a-z0-9+.-]*://|www\.)\S+|[^\s@<>()\[\],;:\"]+@[\w-]+(?:\.[\w-]+)+)",
    re.I,
)
#: A run of three or more single letters, not the end or start of a word with an
#: apostrophe, straight or typographic ("it's a b c", "it’s a b c" keep "it's").
_SPACED = re.compile(r"(?<![\w'\u2019])(?:[A-Za-z] ){2,}[A-Za-z](?![\w'\u2019])")


def blind_identity(text: str) -> str:
    """``text`` with every listed group term replaced by ``people`` or ``person``.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        The rewritten text (lower-case replacements; the encoder is uncased).

    Examples
    --------
    >>> from modkit.backends.local._text import blind_identity
    >>> blind_identity("Tell me a joke about Muslims.")
    'Tell me a joke about people.'
    >>> blind_identity("I want to hurt a gay man")
    'I want to hurt a person'
    """
    return _GROUP.sub(_neutral, text)


def _join_spaced(m: re.Match[str]) -> str:
    """Join a run of single letters; a trailing capital "I" after lower-case letters stays a
    word ("the next w o m a n I see"), and so does a leading "I" or "a" of four or more
    unless the run spells a listed group word ("a s i a n")."""
    run, tail = m.group(0), ""
    if len(run) >= 7 and run[-1] == "I" and any(c.islower() for c in run):
        run, tail = run[:-2], run[-2:]
    head = ""
    if len(run) >= 7 and run[0] in "IaA" and run.replace(" ", "").lower() not in _LISTED:
        head, run = run[:2], run[2:]
    return head + run.replace(" ", "") + tail


def deobfuscate(text: str) -> str:
    """``text`` with spaced-out letters joined and in-word leetspeak read as letters.

    URLs and e-mail addresses are left as written.

    Parameters
    ----------
    text : str

    Returns
    -------
    str

    Examples
    --------
    >>> from modkit.backends.local._text import deobfuscate
    >>> deobfuscate("I h a t e musl1ms, see you at 5pm")
    'I hate muslims, see you at 5pm'
    >>> deobfuscate("mail j0hn@example.com or see https://example.com/p4ge")
    'mail j0hn@example.com or see https://example.com/p4ge'
    """
    parts = _VERBATIM.split(text)  # odd indices: URLs and e-mail addresses, kept as written
    for i in range(0, len(parts), 2):
        joined = _SPACED.sub(_join_spaced, parts[i])
        parts[i] = _INNER_LEET.sub(lambda m: m.group(0).translate(_LEET), joined)
    return "".join(parts)


#: Named rewrites a model's ``heads.json`` may list under ``text_input``.
TEXT_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "deobfuscate": deobfuscate,
    "blind-identity": blind_identity,
}


def encoder_texts(texts: Sequence[str], transforms: Sequence[str]) -> list[str]:
    """``texts`` rewritten by each of ``transforms`` in order (names of
    :data:`TEXT_TRANSFORMS`); the same list when ``transforms`` is empty."""
    out = list(texts)
    for name in transforms:
        fn = TEXT_TRANSFORMS[name]
        out = [fn(t) for t in out]
    return out
