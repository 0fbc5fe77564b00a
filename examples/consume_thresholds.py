"""Decide allow / review / block from a modkit threshold file, with the standard library only.

Usage::

    python consume_thresholds.py thresholds.json '{"violence": 0.93, "hate": 0.02}'
    echo '{"violence": 0.93}' | python consume_thresholds.py thresholds.json --profile output

The category scores are a JSON object (the endpoint's ``category_scores``) given as the
second argument or on stdin; or the endpoint's whole result object (with
``category_scores`` and ``category_applied_input_types``), so that thresholds that differ
by input type (a category's optional ``by_input_type``: ``{"image": {"block": ...}}``)
apply: each type the category was applied to uses its own thresholds (or the category's),
and the lowest applies; without ``category_applied_input_types`` an item counts as text.
Prints the action and the categories that fired, as JSON.
The rule is the file's: a category fires at ``block`` when its score >= block, in review
when review <= score < block; ``null`` thresholds never fire. The item is blocked if any
category blocks, reviewed if none blocks and any is in review, ``unscored`` if none of the
file's categories has a score, else allowed.

Category keys are spelled as the API spells them (``self-harm/intent``). A key that is
not one of them is an error that names it (the ``openai`` SDK's ``model_dump()``
spelling ``self_harm_intent`` gets "did you mean 'self-harm/intent'?"), so a misspelt
score can never be silently ignored. Exit status 1 with one line on stderr on any error.

A profile with a ``provider`` (thresholds fitted on another provider's own categories and
scale, e.g. Azure's ``Hate`` severities 0-7) holds that provider's category names, and
its ``scale`` says the range of scores (``low``, ``high``). Its keys are not the API's, so
they are not checked against the list above; instead every score must be a number
within the scale's range, and a category of the file missing from the scores is unscored.
"""

import json
import math
import sys

SUPPORTED_VERSIONS = (1, 2)  # version 2 adds how a guarantee was obtained; same rule
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def check_keys(category_scores, scale=None):
    """Exit naming the first key that is not a category key in the API's spelling.

    With a provider's ``scale`` (a profile with a ``provider``), keys are the provider's
    own: instead, every score must be a number in the scale's [low, high].
    """
    if not isinstance(category_scores, dict):
        raise SystemExit("category scores must be a JSON object of category to score")
    if scale is not None:
        low, high = scale["low"], scale["high"]
        for key, score in category_scores.items():
            if score is None:
                continue
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise SystemExit(f"score of {key!r} is not a number: {score!r}")
            if not math.isnan(score) and not low <= score <= high:
                raise SystemExit(f"score of {key!r} is {score!r}, outside [{low}, {high}]")
        return
    by_sdk = {c.replace("-", "_").replace("/", "_"): c for c in CATEGORIES}
    for key in category_scores:
        if key in CATEGORIES:
            continue
        hint = by_sdk.get(str(key).replace("-", "_").replace("/", "_").lower())
        raise SystemExit(
            f"unknown category key {key!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )


def load_profile(path, profile="input"):
    """Return ``{category: (review, block)}`` for one profile of the file."""
    return read_profile(path, profile)[0]


def lowest(values):
    """The lowest threshold (fires first); None (never fires) only if all are None."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


def limits_for(entry, types):
    """``(review, block)`` of a category entry for an item of these input types."""
    by_type = entry.get("by_input_type") or {}
    kinds = ["text"] if types is None else list(types)
    if not by_type or not kinds:
        return entry.get("review"), entry.get("block")
    pairs = [by_type.get(kind, entry) for kind in kinds]
    return lowest([p.get("review") for p in pairs]), lowest([p.get("block") for p in pairs])


def read_profile(path, profile="input"):
    """Return ``({category: (review, block)}, scale)``; ``scale`` is None for API keys."""
    thresholds, scale, _ = read_entries(path, profile)
    return thresholds, scale


def read_entries(path, profile="input"):
    """Return ``(thresholds, scale, entries)``: also each category's file entry."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise SystemExit(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SystemExit(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SystemExit(f"{path}: not a threshold file (expected a JSON object)")
    if doc.get("schema_version") not in SUPPORTED_VERSIONS:
        raise SystemExit(f"{path}: unsupported schema_version {doc.get('schema_version')!r}")
    if doc.get("decision_rule") != "flag when score >= threshold":
        raise SystemExit(f"{path}: unexpected decision_rule {doc.get('decision_rule')!r}")
    try:
        prof = doc["profiles"][profile]
        categories = prof["categories"]
    except KeyError:
        raise SystemExit(f"{path}: no profile {profile!r}") from None
    scale = None
    if prof.get("provider") not in (None, "openai"):
        scale = prof.get("scale") or {"low": -math.inf, "high": math.inf}
    thresholds = {name: (e.get("review"), e.get("block")) for name, e in categories.items()}
    return thresholds, scale, categories


def decide(thresholds, category_scores):
    """Return ``(action, blocked_categories, review_categories)``."""
    blocked, review, scored = [], [], False
    for name, (low, high) in thresholds.items():
        score = category_scores.get(name)
        if score is None or (isinstance(score, float) and math.isnan(score)):
            continue
        scored = True
        if high is not None and score >= high:
            blocked.append(name)
        elif low is not None and score >= low:
            review.append(name)
    if not scored:
        return "unscored", blocked, review
    return ("block" if blocked else "review" if review else "allow"), blocked, review


def main(argv):
    args = list(argv)
    profile = "input"
    if "--profile" in args:
        i = args.index("--profile")
        profile = args[i + 1]
        del args[i : i + 2]
    if not args:
        raise SystemExit(__doc__)
    try:
        scores = json.loads(args[1] if len(args) > 1 else sys.stdin.read())
    except ValueError as exc:
        raise SystemExit(f"scores: not valid JSON: {exc}") from None
    thresholds, scale, entries = read_entries(args[0], profile)
    if isinstance(scores, dict) and isinstance(scores.get("category_scores"), dict):
        applied = scores.get("category_applied_input_types") or {}  # a whole result
        scores = scores["category_scores"]
        if not isinstance(applied, dict):
            raise SystemExit("category_applied_input_types must be a JSON object")
    else:
        applied = {}
    thresholds = {name: limits_for(entries[name], applied.get(name)) for name in thresholds}
    check_keys(scores, scale)
    action, blocked, review = decide(thresholds, scores)
    print(
        json.dumps({"action": action, "blocked_categories": blocked, "review_categories": review})
    )


if __name__ == "__main__":
    main(sys.argv[1:])
