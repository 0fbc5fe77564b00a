"""Perspective API backend, end to end over real HTTP against :class:`PerspectiveFake`."""

from __future__ import annotations

import math

import pytest

import modkit
from modkit import AuthenticationError, QuotaExceededError
from modkit.backends._perspective import PerspectiveBackend
from modkit.testing import Fault, PerspectiveFake

KEY = "persp-canary-key-91b2"
TEXTS = ["you are wonderful", "you are an idiot", "have a nice day"]
SPANISH = "el perro y la casa de los gatos es muy bonita"


def _run(fake, texts=TEXTS, **kw):
    with PerspectiveBackend(base_url=fake.url, api_key=KEY, **kw) as backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)


def test_summary_scores_under_attribute_names_and_the_wire_format():
    attrs = ["TOXICITY", "INSULT", "THREAT"]
    with PerspectiveFake(api_key=KEY) as fake:
        df = _run(fake, attributes=attrs, languages=["en"])
        sent = fake.requests
    for row in df.to_dict("records"):
        for a in attrs:
            assert row[a] == fake.score(row["text"], a)
        assert bool(row["flagged"]) == any(row[a] >= 0.7 for a in attrs)
    assert len(sent) == len(TEXTS)  # one comment per request
    body = sent[0].body
    assert set(body["requestedAttributes"]) == set(attrs)
    assert body["languages"] == ["en"] and body["doNotStore"] is True
    assert "key" not in sent[0].query  # the key travels in a header, never in the URL
    assert sent[0].headers["x-goog-api-key"] == "<redacted>"


def test_an_attribute_that_does_not_support_the_language_is_dropped_for_that_text():
    attrs = ["TOXICITY", "SEXUALLY_EXPLICIT"]
    with PerspectiveFake(api_key=KEY) as fake:
        df = _run(fake, ["a plain english line", SPANISH], attributes=attrs)
        statuses = [r.status for r in fake.requests]
    assert (df["error"] == "").all()
    assert not math.isnan(df["SEXUALLY_EXPLICIT"].iloc[0])
    assert math.isnan(df["SEXUALLY_EXPLICIT"].iloc[1])
    assert df["TOXICITY"].iloc[1] == fake.score(SPANISH, "TOXICITY")
    assert '"unsupported":["SEXUALLY_EXPLICIT"]' in df["result_json"].iloc[1]
    assert statuses.count(400) == 1  # one refusal, then the request without the attribute


def test_drop_unsupported_lets_the_service_drop_them():
    with PerspectiveFake(api_key=KEY) as fake:
        df = _run(fake, [SPANISH], attributes=["TOXICITY", "FLIRTATION"], drop_unsupported=True)
        statuses = [r.status for r in fake.requests]
    assert statuses == [200]
    assert "FLIRTATION" not in df.columns  # no text has it: no column
    assert '"unsupported":["FLIRTATION"]' in df["result_json"].iloc[0]


def test_only_unsupported_attributes_is_an_item_error():
    with PerspectiveFake(api_key=KEY) as fake:
        df = _run(fake, [SPANISH, "fine words"], attributes=["FLIRTATION"])
    assert "no requested attribute supports" in df["error"].iloc[0]
    assert df["error"].iloc[1] == ""


def test_rate_limits_are_retried_and_a_daily_quota_is_not():
    with PerspectiveFake(api_key=KEY) as fake:
        fake.push(Fault.rate_limited(retry_after=0.01), Fault.truncate())
        df = _run(fake, TEXTS[:1])
        assert df["error"].iloc[0] == ""
        fake.push(
            Fault(
                "status",
                429,
                message="Quota exceeded for quota metric 'Analysis requests per day'",
                headers=(),
            ),
        )
        with pytest.raises(QuotaExceededError, match="per day"):
            _run(fake, ["another"])


def test_invalid_key_is_an_authentication_error_without_the_key():
    with (
        PerspectiveFake(api_key="right-key") as fake,
        pytest.raises(AuthenticationError, match="PERSPECTIVE_API_KEY") as info,
    ):
        _run(fake)
    assert KEY not in str(info.value)
    assert KEY not in info.value.partial.to_csv()


def test_bad_attribute_names_are_refused():
    with pytest.raises(modkit.InputError, match="upper case"):
        PerspectiveBackend(base_url="http://127.0.0.1:9", attributes=["toxicity"])
    with PerspectiveFake(api_key=KEY) as fake:
        df = _run(fake, ["x"], attributes=["NOT_AN_ATTRIBUTE"])
    assert "Unknown attribute" in df["error"].iloc[0]
