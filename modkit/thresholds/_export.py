"""A threshold file in the forms services read: env, YAML, LiteLLM, Rego, flat JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputError
from .._validation import validate_params
from ._schema import DECISION_RULE, SCHEMA_VERSION
from ._set import PROFILES, ThresholdFile

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "env_name",
    "export_format",
    "export_formats",
    "export_thresholds",
    "register_export_format",
]

_RULE_TEXT = (
    "per category: block when score >= block; else review when score >= review. "
    "A category without a threshold (not listed, or block and review both null) follows "
    "the unthresholded policy (its own, else the profile's), from the backend's own "
    "per-category flag: backend_flag = block if flagged, allow if not; review = review if "
    "flagged, allow if not; never_flag = allow; backend_flag and review with no flag from "
    "the backend = review. The item: block if any category blocks, else review if any is "
    "in review, else allow; unscored if no category could be decided."
)


#: What every export says about the review band (the consumer's side of it).
REVIEW_TEXT = (
    "review: an item whose action is review (a category at or above its review threshold and "
    "below block, or a category without a threshold sent to review by the policy) is neither "
    "allowed nor blocked by this rule: route it to a person; a consumer that acts on block "
    "alone lets it through."
)
#: What the LiteLLM export does with the review band: let it through or block it.
LITELLM_REVIEW = ("pass", "block")


def env_name(prefix: str, profile: str, category: str, which: str) -> str:
    """The environment variable of one threshold: ``PREFIX_PROFILE_CATEGORY_WHICH``.

    Every character of the category key that is not a letter or digit becomes ``_`` and
    letters are upper-cased: ``self-harm/intent`` -> ``SELF_HARM_INTENT``.

    Parameters
    ----------
    prefix : str
        Written as it is, first (e.g. ``"MODKIT_"``).
    profile : str
        The profile (``"input"`` / ``"output"``), upper-cased.
    category : str
        The category key.
    which : str
        ``"block"`` or ``"review"``, upper-cased.

    Returns
    -------
    str
        The variable's name.

    Examples
    --------
    >>> from modkit.thresholds import env_name
    >>> env_name("MODKIT_", "input", "self-harm/intent", "block")
    'MODKIT_INPUT_SELF_HARM_INTENT_BLOCK'
    """
    cat = re.sub(r"[^A-Za-z0-9]", "_", category).upper()
    return f"{prefix}{profile.upper()}_{cat}_{which.upper()}"


def _profiles(tf: ThresholdFile, profile: str | None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{profile: {category: {"review": r, "block": b}}}`` for the chosen profile(s)."""
    if profile is not None and profile not in tf.profiles:
        raise InputError(
            f"the file has no profile {profile!r} (profiles: {', '.join(tf.profiles)})"
        )
    ordered = [p for p in PROFILES if p in tf.profiles]
    ordered += [p for p in tf.profiles if p not in ordered]  # named profiles after them
    names = [profile] if profile is not None else ordered
    out = {}
    for name in names:
        ts = tf[name]
        out[name] = {
            c: {"review": ct.review, "block": ct.block}
            | ({} if ct.unthresholded is None else {"unthresholded": ct.unthresholded})
            for c, ct in ts.categories.items()
        }
    return out


def _policies(tf: ThresholdFile, profile: str | None) -> dict[str, str]:
    """``{profile: unthresholded policy}`` for the chosen profile(s)."""
    return {name: tf[name].unthresholded for name in _profiles(tf, profile)}


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _header(tf: ThresholdFile, comment: str) -> list[str]:
    doc = tf.to_dict()
    return [
        f"{comment} modkit threshold file (schema_version {SCHEMA_VERSION}), model "
        f"{doc['model'] or 'not recorded'}, created {doc['created']}, "
        f"modkit {doc['modkit_version']}",
        f"{comment} decision rule: {_RULE_TEXT}",
        f"{comment} {REVIEW_TEXT}",
        *(f"{comment} {ts.describe_policy()}" for ts in tf.profiles.values()),
    ]


def _export_env(tf: ThresholdFile, profile: str | None, *, env_prefix: str) -> str:
    prefix = env_prefix
    lines = _header(tf, "#")
    lines.append("# an empty value means: no such threshold (the UNTHRESHOLDED policy decides")
    lines.append("# a category with neither, and every category not in _CATEGORIES)")
    lines.append(f"{prefix}SCHEMA_VERSION={SCHEMA_VERSION}")
    policies = _policies(tf, profile)
    for name, cats in _profiles(tf, profile).items():
        lines.append(f"{prefix}{name.upper()}_UNTHRESHOLDED={policies[name]}")
        lines.append(f"{prefix}{name.upper()}_CATEGORIES={','.join(cats)}")
        for cat, t in cats.items():
            for which in ("review", "block"):
                lines.append(f"{env_name(prefix, name, cat, which)}={_num(t[which])}")
            if "unthresholded" in t:
                lines.append(f"{env_name(prefix, name, cat, 'unthresholded')}={t['unthresholded']}")
    return "\n".join(lines) + "\n"


def _yaml_doc(tf: ThresholdFile, profile: str | None) -> dict[str, Any]:
    doc = tf.to_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "decision_rule": DECISION_RULE,
        "model": doc["model"],
        "created": doc["created"],
        "profiles": {
            name: {"unthresholded": _policies(tf, profile)[name], "categories": cats}
            for name, cats in _profiles(tf, profile).items()
        },
    }


def _dump_yaml(doc: Any) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _export_yaml(tf: ThresholdFile, profile: str | None) -> str:
    return "\n".join(_header(tf, "#")) + "\n" + _dump_yaml(_yaml_doc(tf, profile))


def _litellm_guardrail(
    name: str,
    kind: str,
    modes: Mapping[str, str],
    n_profiles: int,
    api_base: str,
    output_api_base: str,
    api_key_env: str,
) -> dict[str, Any]:
    """One profile's LiteLLM ``openai_moderation`` guardrail entry (``kind``: the
    profile's input or output side, as a named profile says)."""
    return {
        "guardrail_name": f"modkit-{name}",
        "litellm_params": {
            "guardrail": "openai_moderation",
            "mode": modes[kind],
            # one `modkit serve --profile P` per profile; a lone output profile
            # is served at api_base
            "api_base": output_api_base if kind == "output" and n_profiles > 1 else api_base,
            "api_key": f"os.environ/{api_key_env}",
            # a named profile is for some keys or teams only: they turn it on
            "default_on": name in PROFILES,
        },
    }


def _export_litellm(
    tf: ThresholdFile,
    profile: str | None,
    *,
    litellm_api_base: str,
    litellm_output_api_base: str,
    litellm_api_key_env: str,
    litellm_review: str = "pass",
) -> str:
    api_base, output_api_base = litellm_api_base, litellm_output_api_base
    api_key_env, review = litellm_api_key_env, litellm_review
    profiles = _profiles(tf, profile)
    modes = {"input": "pre_call", "output": "post_call"}
    guardrails = [
        _litellm_guardrail(name, tf[name].applies_to, modes, len(profiles), api_base,
                           output_api_base, api_key_env)
        for name in profiles
    ]  # fmt: skip
    lines = [
        *_header(tf, "#"),
        "# LiteLLM's openai_moderation guardrail blocks a request (HTTP 400) when the moderation",
        "# response says flagged. Point it at 'modkit serve --thresholds THIS_FILE --profile P',",
        "# whose 'flagged' is true exactly when some category's score >= its block threshold:",
    ]
    for name, cats in profiles.items():
        kind = tf[name].applies_to
        if name not in PROFILES:
            lines.append(
                f"#   named profile {name} ({kind}): LiteLLM cannot send X-Modkit-Profile, so "
                f"serve it with its own 'modkit serve --profile {name}' at that api_base; "
                "off by default (turn the guardrail on per key or team)"
            )
        lines.append(f"#   profile {name} ({modes[kind]}), block thresholds:")
        for cat, t in cats.items():
            lines.append(f"#     {cat}: {_num(t['block']) or 'none'}")
        lines.append(
            f"#   categories without a block or review threshold: the serving profile's "
            f"unthresholded policy ({tf[name].unthresholded}); backend_flag flags what the "
            "backend flags; a category with no backend flag is flagged (fail closed)"
        )
    if review == "block":
        lines += [
            "# review: BLOCKED. LiteLLM's guardrail has no review band, so serve with",
            "# 'modkit serve --thresholds THIS_FILE --flag-review': its 'flagged' is also true",
            "# for an item whose action is review (a person never sees it; LiteLLM refuses it).",
        ]
    else:
        lines += [
            "# review: PASSED. LiteLLM's guardrail has no review band: an item whose action is",
            "# review is let through. Serve with '--decision-log PATH' to record each one",
            "# (action review; 'modkit audit draw' samples them for a person) and '--actions'",
            "# to tag answers with results[i].modkit.action for a callback or logger to read.",
        ]
    return "\n".join(lines) + "\n" + _dump_yaml({"guardrails": guardrails})


_REGO_RULES = """\
profile := input.profile

has_threshold(c) if is_number(thresholds[profile][c].block)

has_threshold(c) if is_number(thresholds[profile][c].review)

profile_policy := object.get(unthresholded, profile, "backend_flag")

policy(c) := object.get(object.get(thresholds, profile, {}), [c, "unthresholded"], profile_policy)

scored contains c if {
	some c, _ in thresholds[profile]
	has_threshold(c)
	is_number(input.category_scores[c])
}

# categories without a threshold that the input has a score or a backend flag for
mentioned contains c if {
	some c, s in input.category_scores
	is_number(s)
}

mentioned contains c if {
	some c, f in input.categories
	is_boolean(f)
}

unthresholded_categories contains c if {
	some c in mentioned
	not has_threshold(c)
}

decided := scored | unthresholded_categories

blocked contains c if {
	some c in unthresholded_categories
	policy(c) == "backend_flag"
	input.categories[c] == true
}

review contains c if {
	some c in unthresholded_categories
	policy(c) == "review"
	input.categories[c] == true
}

review contains c if {
	some c in unthresholded_categories
	policy(c) != "never_flag"
	not is_boolean(input.categories[c])
}

blocked contains c if {
	some c in scored
	t := thresholds[profile][c].block
	is_number(t)
	input.category_scores[c] >= t
}

review contains c if {
	some c in scored
	not c in blocked
	t := thresholds[profile][c].review
	is_number(t)
	input.category_scores[c] >= t
}

default action := "unscored"

action := "block" if count(blocked) > 0

action := "review" if {
	count(blocked) == 0
	count(review) > 0
}

action := "allow" if {
	count(decided) > 0
	count(blocked) == 0
	count(review) == 0
}

decision := {
	"action": action,
	"blocked_categories": sort([c | some c in blocked]),
	"review_categories": sort([c | some c in review]),
	"unthresholded_categories": sort([c | some c in unthresholded_categories]),
}
"""


def _export_rego(tf: ThresholdFile, profile: str | None, *, rego_package: str) -> str:
    package = rego_package
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", package):
        raise InputError(f"rego package {package!r} is not a dotted identifier")
    profiles = _profiles(tf, profile)
    data = json.dumps(profiles, indent=2, allow_nan=False)
    policies = json.dumps(_policies(tf, profile), indent=2)
    lines = [
        *_header(tf, "#"),
        '# Query data.<package>.decision with input {"category_scores": {...}, "categories":',
        '# {...}, "profile": "input"|"output"} (default '
        f"{next(iter(profiles))}): categories holds the",
        "# backend's own per-category flags (true/false), which decide the categories without",
        "# a threshold. Scores that are not numbers are left out, as a missing score is.",
        f"package {package}",
        "",
        "import rego.v1",
        "",
        f"thresholds := {data}",
        "",
        f"unthresholded := {policies}",
        "",
        f'default profile := "{next(iter(profiles))}"',
        "",
        _REGO_RULES,
    ]
    return "\n".join(lines)


def _export_json_flat(tf: ThresholdFile, profile: str | None) -> str:
    doc = tf.to_dict()
    flat: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "decision_rule": DECISION_RULE,
        "model": doc["model"],
        "created": doc["created"],
        "review_band": REVIEW_TEXT,
    }
    policies = _policies(tf, profile)
    for name, cats in _profiles(tf, profile).items():
        flat[f"{name}.unthresholded"] = policies[name]
        for cat, t in cats.items():
            for which in ("review", "block", "unthresholded"):
                if which in t:
                    flat[f"{name}.{cat}.{which}"] = t[which]
    return json.dumps(flat, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class ExportFormat:
    """One form :func:`export_thresholds` and ``modkit export --format`` write.

    Attributes
    ----------
    name : str
        The format's name (``--format NAME``).
    write : callable
        ``write(thresholds, profile, **options) -> str``: the
        :class:`~modkit.thresholds.ThresholdFile`, the profile to export (``None``:
        every profile) and this format's options (each of :attr:`options`, by keyword).
    summary : str
        What it writes, in a few words (``modkit export --help`` lists it).
    options : dict of str to object
        Option name -> default. ``modkit export`` adds one ``--option-name`` flag per
        option (prefix the name with the format's, e.g. ``rego_package``).
    option_help : dict of str to str
        Option name -> help text of its flag.
    option_choices : dict of str to tuple of str
        Option name -> its allowed values (checked before writing).

    Examples
    --------
    >>> from modkit.thresholds import export_format
    >>> fmt = export_format("rego")
    >>> fmt.summary, fmt.options
    ('an OPA Rego policy', {'rego_package': 'modkit.thresholds'})
    """

    name: str
    write: Callable[..., str]
    summary: str
    options: Mapping[str, Any] = field(default_factory=dict)
    option_help: Mapping[str, str] = field(default_factory=dict)
    option_choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_FORMATS: dict[str, ExportFormat] = {}


@validate_params({"fmt": [ExportFormat]})
def register_export_format(fmt: ExportFormat) -> None:
    """Make a format available to :func:`export_thresholds` and ``modkit export``.

    Parameters
    ----------
    fmt : ExportFormat
        Registered under ``fmt.name`` (replacing one of the same name; the registry is
        process-wide).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    InputError
        When the name is not a non-empty string without spaces, or an option is
        another registered format's option with another default (two formats may
        share an option only with the same default: ``modkit export`` has one flag per
        option).

    Examples
    --------
    >>> from modkit.thresholds import export_format, register_export_format
    >>> register_export_format(export_format("yaml"))  # registering again replaces it
    >>> export_format("yaml").summary
    'YAML'
    """
    if not isinstance(fmt.name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", fmt.name):
        raise InputError(f"export format name {fmt.name!r}: letters, digits, '-', '.', '_'")
    for other in _FORMATS.values():
        for option in set(fmt.options) & set(other.options):
            if other.name != fmt.name and other.options[option] != fmt.options[option]:
                raise InputError(
                    f"export format {fmt.name!r}: option {option!r} is also format "
                    f"{other.name!r}'s, with another default"
                )
    _FORMATS[fmt.name] = fmt


def export_formats() -> tuple[ExportFormat, ...]:
    """Every registered :class:`ExportFormat`, in registration order (built-ins first).

    Returns
    -------
    tuple of ExportFormat

    Examples
    --------
    >>> from modkit.thresholds import export_formats
    >>> [f.name for f in export_formats()][:5]
    ['env', 'yaml', 'litellm', 'rego', 'json-flat']
    """
    return tuple(_FORMATS.values())


@validate_params({"name": [str]})
def export_format(name: str) -> ExportFormat:
    """The registered :class:`ExportFormat` called ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    ExportFormat

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    InputError
        For an unknown format (the message lists the registered ones).

    Examples
    --------
    >>> from modkit.thresholds import export_format
    >>> export_format("env").options
    {'env_prefix': 'MODKIT_'}
    """
    try:
        return _FORMATS[name]
    except (KeyError, TypeError):
        choices = ", ".join(_FORMATS)
        raise InputError(f"unknown export format {name!r}; choose one of {choices}") from None


register_export_format(
    ExportFormat(
        "env",
        _export_env,
        "env vars",
        {"env_prefix": "MODKIT_"},
        {"env_prefix": "env: variable prefix"},
    )
)
register_export_format(ExportFormat("yaml", _export_yaml, "YAML"))
register_export_format(
    ExportFormat(
        "litellm",
        _export_litellm,
        "a LiteLLM guardrail",
        {
            "litellm_api_base": "http://127.0.0.1:8000/v1",
            "litellm_output_api_base": "http://127.0.0.1:8001/v1",
            "litellm_api_key_env": "MODKIT_SERVE_API_KEY",
            "litellm_review": "pass",
        },
        {
            "litellm_api_base": "litellm: where 'modkit serve --thresholds FILE' answers",
            "litellm_output_api_base": "litellm: where the output profile is served, when "
            "both are exported",
            "litellm_api_key_env": "litellm: variable holding the server's key (the key is "
            "never written)",
            "litellm_review": "litellm: what happens to an item whose action is review "
            "(LiteLLM has no review band): pass (default; record it with serve "
            "--decision-log) or block (serve with --flag-review)",
        },
        {"litellm_review": LITELLM_REVIEW},
    )
)
register_export_format(
    ExportFormat(
        "rego",
        _export_rego,
        "an OPA Rego policy",
        {"rego_package": "modkit.thresholds"},
        {"rego_package": "rego: package name"},
    )
)
register_export_format(ExportFormat("json-flat", _export_json_flat, "flat JSON"))

#: The built-in formats (:func:`export_formats` lists added ones too).
EXPORT_FORMATS = tuple(_FORMATS)


def export_thresholds(
    thresholds: ThresholdFile,
    fmt: str,
    *,
    profile: str | None = None,
    **options: Any,
) -> str:
    """Write a threshold file's thresholds in a form a consuming service reads.

    Every form carries the same rule as :meth:`ThresholdSet.decide` ("flag when score >=
    threshold") and the same policy for categories without a threshold (the profile's
    ``unthresholded``, and a category's own where it has one: ``backend_flag``,
    ``review`` or ``never_flag``, applied to the backend's own per-category flag; no flag
    means review), and the tests check each makes the same decisions:

    * ``env``: ``KEY=value`` lines (a dotenv file; ``sh`` can source it):
      ``MODKIT_INPUT_VIOLENCE_BLOCK=0.93`` (see :func:`env_name`); an empty value is no
      threshold; ``MODKIT_INPUT_CATEGORIES`` lists the profile's categories,
      ``MODKIT_INPUT_UNTHRESHOLDED`` its policy and ``..._<CATEGORY>_UNTHRESHOLDED`` a
      category's own.
    * ``yaml``: ``profiles.<profile>.unthresholded`` and
      ``profiles.<profile>.categories.<category>.{review,block[,unthresholded]}`` with
      the rule, model and creation time.
    * ``litellm``: a LiteLLM proxy ``config.yaml`` ``guardrails:`` section using LiteLLM's
      ``openai_moderation`` guardrail (``pre_call`` for ``input``, ``post_call`` for
      ``output``) pointed at ``modkit serve --thresholds FILE``, whose ``flagged`` is set by
      the block thresholds (LiteLLM blocks on ``flagged``; it has no review band). The
      thresholds are listed in comments. With both profiles the output guardrail points
      at ``litellm_output_api_base``: run one ``modkit serve --profile P`` per profile.
      The server applies the policy (see :func:`threshold_postprocess`). What happens to
      the review band is ``litellm_review``'s choice, stated in the comments.
    * ``rego``: an OPA policy (Rego v1) with the thresholds and policies as data; query
      ``data.<package>.decision`` with ``{"category_scores": {...}, "categories": {...},
      "profile": "input"}`` (``categories``: the backend's own flags).
    * ``json-flat``: one JSON object with keys ``<profile>.unthresholded`` and
      ``<profile>.<category>.<review|block|unthresholded>`` (a category's own policy only
      where it has one), and ``review_band`` (what to do with review).

    Every form states what a consumer does with ``review`` (route to a person; a consumer
    acting on ``block`` alone lets it through): a comment line, or ``review_band``.

    Parameters
    ----------
    thresholds : ThresholdFile
        A loaded file (:func:`modkit.thresholds.load_threshold_file`).
    fmt : {"env", "yaml", "litellm", "rego", "json-flat"}
        Or any format added with :func:`register_export_format`.
    profile : {"input", "output"}, optional
        Export one profile; default every profile of the file.
    **options
        The format's options (:attr:`ExportFormat.options`; an option of another
        registered format is ignored, as the CLI passes every flag). Those of the
        built-in formats:

        * ``env_prefix`` : str, default "MODKIT_" (``env``).
        * ``rego_package`` : str, default "modkit.thresholds" (``rego``).
        * ``litellm_api_base`` : str, default "http://127.0.0.1:8000/v1": where ``modkit
          serve --thresholds FILE --profile input`` answers (or the file's only profile).
        * ``litellm_output_api_base`` : str, default "http://127.0.0.1:8001/v1": where
          ``modkit serve --thresholds FILE --profile output`` answers, when the export
          holds both profiles.
        * ``litellm_api_key_env`` : str, default "MODKIT_SERVE_API_KEY": the variable
          LiteLLM reads the server's key from (the key itself is never written).
        * ``litellm_review`` : {"pass", "block"}, default "pass": LiteLLM has no review
          band: ``pass`` lets review items through (serve with ``--decision-log`` to
          record them, ``--actions`` to tag answers); ``block`` refuses them (serve with
          ``--flag-review``).

    Returns
    -------
    str
        The exported text.

    Raises
    ------
    InputError
        Unknown format, profile or option (an option no registered format has), a value
        outside an option's choices, or a bad package name or prefix.

    Examples
    --------
    >>> import modkit
    >>> from modkit.thresholds import ThresholdFile, export_thresholds
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    >>> text = export_thresholds(ThresholdFile({"input": ts}), "env")
    >>> [line for line in text.splitlines() if line.startswith("MODKIT_INPUT_VIOLENCE")]
    ['MODKIT_INPUT_VIOLENCE_REVIEW=0.5', 'MODKIT_INPUT_VIOLENCE_BLOCK=0.8']
    """
    spec = export_format(fmt)
    known = {name for f in _FORMATS.values() for name in f.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"export format {fmt!r}: unknown option {unknown[0]!r} "
            f"(its options: {', '.join(spec.options) or 'none'})"
        )
    given = {k: options.get(k, default) for k, default in spec.options.items()}
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", options.get("env_prefix", "_") or "_"):
        raise InputError(
            f"env prefix {options['env_prefix']!r} must be letters, digits and underscores"
        )
    for option, choices in spec.option_choices.items():
        if given[option] not in choices:
            raise InputError(f"{option} must be {' or '.join(choices)}; got {given[option]!r}")
    return spec.write(thresholds, profile, **given)
