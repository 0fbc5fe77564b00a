import modkit
from modkit._taxonomy import order_categories


def test_thirteen_omni_keys_in_api_spelling():
    assert len(modkit.CATEGORIES) == 13
    assert "self-harm/intent" in modkit.CATEGORIES
    assert "illicit/violent" in modkit.CATEGORIES
    assert not any("_" in c for c in modkit.CATEGORIES)


def test_legacy_is_omni_without_illicit():
    assert len(modkit.LEGACY_CATEGORIES) == 11
    assert set(modkit.CATEGORIES) - set(modkit.LEGACY_CATEGORIES) == {"illicit", "illicit/violent"}


def test_1680_codes_map_to_known_keys():
    assert set(modkit.OPENAI_1680_CODES) == {"S", "H", "V", "HR", "SH", "S3", "H2", "V2"}
    assert set(modkit.OPENAI_1680_CODES.values()) <= set(modkit.CATEGORIES)
    assert modkit.OPENAI_1680_CODES["S3"] == "sexual/minors"


def test_taxonomy_matches_the_sdk_api_names():
    """The SDK's to_dict() (API names) has exactly our 13 keys; model_dump() does not."""
    from openai.types import Moderation

    scores = {c: 0.0 for c in modkit.CATEGORIES}
    m = Moderation.model_validate(
        {
            "flagged": False,
            "categories": {c: False for c in modkit.CATEGORIES},
            "category_scores": scores,
            "category_applied_input_types": {c: ["text"] for c in modkit.CATEGORIES},
        }
    )
    assert set(m.to_dict()["category_scores"]) == set(modkit.CATEGORIES)
    assert set(m.model_dump()["category_scores"]) != set(modkit.CATEGORIES)


def test_order_categories_puts_unknown_last():
    assert order_categories(["violence", "zzz", "hate", "aaa"]) == [
        "hate",
        "violence",
        "aaa",
        "zzz",
    ]
