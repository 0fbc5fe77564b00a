"""Decide allow / review / block from a modkit threshold file, with the standard library only.

Usage::

    python consume_thresholds.py thresholds.json '{"violence": 0.93, "hate": 0.02}'
    echo '{"violence": 0.93}' | python consume_thresholds.py thresholds.json --profile output

The category scores are a JSON object (the endpoint's ``category_scores``) given as the
second argument or on stdin; or, better, the endpoint's whole result object (with
``category_scores``, ``categories`` and ``category_applied_input_types``): its
``categories`` (the backend's own per-category flags) decide the categories the file holds
no threshold for, and thresholds that differ by input type (a category's optional
``by_input_type``: ``{"image": {"block": ...}}``) apply: each type the category was
applied to uses its own thresholds (or the category's), and the lowest applies; without
``category_applied_input_types`` an item counts as text.
Prints the action, the categories that fired and, per category, the rule that decided
it, as JSON.

The rule is the file's: a category fires at ``block`` when its score >= block, in review
when review <= score < block. A category without a threshold (not in the file, or with
``block`` and ``review`` both null) that has a score or a flag follows the file's
``unthresholded`` policy (the category's own, else the profile's, else the file's):
``backend_flag`` blocks it when the backend flagged it and allows it when not;
``review`` sends it to review when flagged; ``never_flag`` allows it. With no flag from
the backend, ``backend_flag`` and ``review`` send it to review (fail closed, rule
``no_backend_flag``). Files of schema version 1 and 2 state no policy: they are read
with ``backend_flag`` and a note on stderr. The item is blocked if any category blocks,
reviewed if none blocks and any is in review, ``unscored`` if no category could be
decided, else allowed.

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

SUPPORTED_VERSIONS = (1, 2, 3)  # 2: how a guarantee was obtained; 3: the unthresholded policy
POLICIES = ("backend_flag", "review", "never_flag")
DEFAULT_POLICY = "backend_flag"  # what versions 1 and 2 are read with
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
    thresholds, scale, _, _ = read_entries(path, profile)
    return thresholds, scale


def read_entries(path, profile="input"):
    """Return ``(thresholds, scale, entries, policy)``: also each category's file entry
    and the profile's ``unthresholded`` policy."""
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
    if doc["schema_version"] < 3:
        print(
            f"{path}: note: schema version {doc['schema_version']} states no policy for "
            f"categories without a threshold; read with {DEFAULT_POLICY}",
            file=sys.stderr,
        )
    try:
        prof = doc["profiles"][profile]
        categories = prof["categories"]
    except KeyError:
        raise SystemExit(f"{path}: no profile {profile!r}") from None
    scale = None
    if prof.get("provider") not in (None, "openai"):
        scale = prof.get("scale") or {"low": -math.inf, "high": math.inf}
    policy = prof.get("unthresholded", doc.get("unthresholded", DEFAULT_POLICY))
    for where, value in [("unthresholded", policy)] + [
        (f"{name}.unthresholded", e["unthresholded"])
        for name, e in categories.items()
        if "unthresholded" in e
    ]:
        if value not in POLICIES:
            raise SystemExit(f"{path}: {where}: unknown policy {value!r}")
    thresholds = {name: (e.get("review"), e.get("block")) for name, e in categories.items()}
    return thresholds, scale, categories, policy


def has_score(score):
    return score is not None and not (isinstance(score, float) and math.isnan(score))


def decide(thresholds, category_scores, flags=None, policies=None, policy=DEFAULT_POLICY):
    """Return ``(action, blocked_categories, review_categories, rules)``.

    ``flags``: the backend's own flags (category -> true/false); ``policies``: a
    category's own ``unthresholded`` policy; ``policy``: the profile's.
    """
    flags, policies = flags or {}, policies or {}
    order = {c: i for i, c in enumerate(CATEGORIES)}
    names = sorted(
        {*thresholds, *category_scores, *flags}, key=lambda c: (order.get(c, len(order)), c)
    )
    blocked, review, rules = [], [], {}
    for name in names:
        low, high = thresholds.get(name, (None, None))
        score = category_scores.get(name)
        if low is not None or high is not None:  # the category's thresholds decide
            if not has_score(score):
                continue
            rules[name] = "threshold"
            if high is not None and score >= high:
                blocked.append(name)
            elif low is not None and score >= low:
                review.append(name)
            continue
        flag = flags.get(name)
        if flag is None and not has_score(score):
            continue  # nothing to decide from
        rule = policies.get(name, policy)
        if rule == "never_flag":
            rules[name] = "never_flag"
        elif flag is None:  # fail closed: no threshold and no backend flag
            rules[name] = "no_backend_flag"
            review.append(name)
        else:
            rules[name] = rule
            if flag and rule == "backend_flag":
                blocked.append(name)
            elif flag:
                review.append(name)
    if not rules:
        return "unscored", blocked, review, rules
    action = "block" if blocked else "review" if review else "allow"
    return action, blocked, review, rules


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
    thresholds, scale, entries, policy = read_entries(args[0], profile)
    flags = {}
    if isinstance(scores, dict) and isinstance(scores.get("category_scores"), dict):
        applied = scores.get("category_applied_input_types") or {}  # a whole result
        flags = scores.get("categories") or {}
        scores = scores["category_scores"]
        if not isinstance(applied, dict):
            raise SystemExit("category_applied_input_types must be a JSON object")
        if not isinstance(flags, dict):
            raise SystemExit("categories must be a JSON object of category to true/false")
    else:
        applied = {}
    thresholds = {name: limits_for(entries[name], applied.get(name)) for name in thresholds}
    check_keys(scores, scale)
    check_keys({k: None for k in flags}, scale)
    for key, flag in flags.items():
        if flag is not None and not isinstance(flag, bool):
            raise SystemExit(f"flag of {key!r} is not true or false: {flag!r}")
    policies = {n: e["unthresholded"] for n, e in entries.items() if "unthresholded" in e}
    action, blocked, review, rules = decide(thresholds, scores, flags, policies, policy)
    print(
        json.dumps(
            {
                "action": action,
                "blocked_categories": blocked,
                "review_categories": review,
                "rules": rules,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
