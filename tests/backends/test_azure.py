"""Azure AI Content Safety backend, end to end: the official azure-ai-contentsafety SDK
against :class:`modkit.testing.AzureContentSafetyFake` over real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest

import modkit
from modkit import AuthenticationError
from modkit.backends._azure import BLOCKLIST_KEY, AzureContentSafetyBackend
from modkit.testing import AzureContentSafetyFake, Fault

KEY = "azure-canary-key-7f3a9c"
TEXTS = ["a calm sentence", "I will find you and hurt you", "another line", "ünïcode text"]
CATS = ("Hate", "SelfHarm", "Sexual", "Violence")


def _run(fake, texts=TEXTS, **kw):
    with AzureContentSafetyBackend(fake.url, api_key=KEY, **kw) as backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)


@pytest.mark.parametrize("output_type", ["EightSeverityLevels", "FourSeverityLevels"])
def test_native_severities_on_both_scales(output_type):
    with AzureContentSafetyFake(api_key=KEY) as fake:
        df = _run(fake, output_type=output_type)
        sent = fake.requests
    levels = set(range(8)) if output_type == "EightSeverityLevels" else {0, 2, 4, 6}
    assert (df["error"] == "").all()
    for row in df.to_dict("records"):
        for c in CATS:
            assert row[c] == fake.severity(row["text"], c, output_type)
            assert row[c] in levels
        assert bool(row["flagged"]) == any(row[c] >= 4 for c in CATS)
    assert (df["model"] == f"content-safety-2023-10-01:{output_type}").all()
    # the wire format: one text per request, key header, api-version, outputType
    assert len(sent) == len(TEXTS)
    assert all(r.path == "/contentsafety/text:analyze" for r in sent)
    assert all(r.query["api-version"] == "2023-10-01" for r in sent)
    assert all(r.headers["ocp-apim-subscription-key"] == "<redacted>" for r in sent)
    assert {r.body["outputType"] for r in sent} == {output_type}
    assert sorted(r.body["text"] for r in sent) == sorted(TEXTS)


def test_blocklist_hits_and_halt():
    texts = ["nothing here", "this has BADWORD inside"]
    with AzureContentSafetyFake(api_key=KEY, blocklists={"mylist": ["badword"]}) as fake:
        df = _run(fake, texts, blocklists=["mylist"])
        halted = _run(fake, texts, blocklists=["mylist"], halt_on_blocklist_hit=True)
        body = fake.requests[0].body
    assert body["blocklistNames"] == ["mylist"]
    assert df[BLOCKLIST_KEY].tolist() == [0.0, 1.0]
    assert bool(df["flagged"].iloc[1])
    assert '"blocklistsMatch":["mylist:badword"]' in df["result_json"].iloc[1]
    # halted: the classifiers are skipped for the hit, so its severities are missing
    assert halted[list(CATS)].iloc[1].isna().all()
    assert halted[list(CATS)].iloc[0].notna().all()


def test_unknown_blocklist_is_a_clear_error():
    with (
        AzureContentSafetyFake(api_key=KEY) as fake,
        pytest.raises(modkit.BackendError, match=r"404.*Blocklist nolist"),
    ):
        _run(fake, ["x"], blocklists=["nolist"])


def test_rate_limit_and_server_error_are_retried():
    with AzureContentSafetyFake(api_key=KEY) as fake:
        fake.push(Fault.rate_limited(retry_after=0.01), Fault.server_error(503), Fault.drop())
        df = _run(fake, TEXTS[:2])
        statuses = [r.status for r in fake.requests]
    assert (df["error"] == "").all()
    assert statuses[:3] == [429, 503, None]
    assert statuses.count(200) == 2


def test_bad_key_stops_the_run_without_showing_the_key(capsys):
    with AzureContentSafetyFake(api_key="the-right-one") as fake:
        backend = AzureContentSafetyBackend(fake.url, api_key=KEY)
        with pytest.raises(AuthenticationError) as info:
            modkit.moderate(TEXTS, backend=backend, cache=None, progress=False)
    message = str(info.value)
    assert "AZURE_CONTENT_SAFETY_KEY" in message
    assert KEY not in message and KEY not in repr(backend) and KEY not in str(vars(backend))
    assert info.value.partial is not None
    assert KEY not in info.value.partial.to_csv()
    assert KEY not in capsys.readouterr().err


def test_texts_the_service_refuses_get_item_errors_without_a_request():
    long = "x" * 10_001
    with AzureContentSafetyFake(api_key=KEY) as fake:
        df = _run(fake, ["fine", "", long])
        sent = [r.body["text"] for r in fake.requests]
    assert sent == ["fine"]
    assert df["error"].iloc[0] == ""
    assert "empty text" in df["error"].iloc[1]
    assert "10001 characters" in df["error"].iloc[2]


def test_bad_options_are_refused_up_front(monkeypatch):
    monkeypatch.delenv("AZURE_CONTENT_SAFETY_KEY", raising=False)
    with pytest.raises(modkit.InputError, match="output_type"):
        AzureContentSafetyBackend("http://127.0.0.1:9", api_key=KEY, output_type="Six")
    with pytest.raises(modkit.InputError, match="Violent"):
        AzureContentSafetyBackend("http://127.0.0.1:9", api_key=KEY, categories=["Violent"])
    with pytest.raises(AuthenticationError, match="AZURE_CONTENT_SAFETY_KEY"):
        AzureContentSafetyBackend("http://127.0.0.1:9")
