"""Any text scored through ``modkit serve`` gets exactly the scores it gets directly.

Over real HTTP on 127.0.0.1: ``modkit.moderate`` with the OpenAI backend (the official
SDK inside) against the server, compared with the same backend called in-process.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from _fakes import HashBackend
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit.server import ServerThread

CHARS = st.one_of(
    st.characters(),
    st.sampled_from(["\r", "\n", "\u2028", "\u2029", "\x85", "\ufeff", "\x00", '"', ",", "\t"]),
    st.integers(0xD800, 0xDFFF).map(chr),
)


@pytest.fixture(scope="module")
def srv():
    with ServerThread(HashBackend()) as server:
        yield server


def _via_server(srv, texts):
    backend = modkit.backends.OpenAIBackend("hash-1", base_url=srv.url, api_key="sk-unused")
    return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=0)


@settings(max_examples=40)
@given(texts=st.lists(st.lists(CHARS, max_size=10).map("".join), min_size=1, max_size=6))
def test_texts_score_the_same_through_the_server(srv, texts):
    served = _via_server(srv, texts)
    direct = modkit.moderate(texts, backend=HashBackend(), cache=None, progress=False)
    assert len(served) == len(texts)
    assert served["text"].tolist() == texts
    assert served["error"].tolist() == direct["error"].tolist()
    assert list(served.columns) == list(direct.columns)
    for c in (c for c in modkit.CATEGORIES if c in direct.columns):
        a, b = served[c].to_numpy(float), direct[c].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert (a[~np.isnan(a)] == b[~np.isnan(b)]).all()


def test_a_lone_surrogate_is_a_400_naming_its_input(srv):
    body = b'{"input": ["fine", "cut \\ud83d", "also fine"]}'
    req = urllib.request.Request(
        srv.url + "/moderations", data=body, headers={"content-type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 400
    error = json.load(info.value)["error"]
    assert error["param"] == "input[1]"
    assert error["code"] == "invalid_text"
    assert error["message"].startswith("input[1]: lone surrogate U+D83D at character 4")


def test_a_lone_surrogate_fails_alone_when_moderated_through_the_server(srv):
    df = _via_server(srv, ["fine", "cut \ud83d", "also fine"])
    assert df["error"].astype(bool).tolist() == [False, True, False]
    assert df["violence"].notna().tolist() == [True, False, True]
