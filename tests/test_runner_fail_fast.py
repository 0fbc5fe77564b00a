"""When nothing answers at ``base_url``, a run stops within seconds, saying so."""

from __future__ import annotations

import time

import pytest

import modkit
from modkit.cli import main
from modkit.server import free_port


@pytest.fixture
def closed_url():
    port = free_port()  # bound and released: nothing listens there
    return f"http://127.0.0.1:{port}/v1"


def test_every_connection_refused_stops_the_run_in_under_5_s(closed_url):
    texts = [f"text {i}" for i in range(100)]
    backend = modkit.backends.OpenAIBackend(base_url=closed_url, api_key="sk-unused")
    started = time.monotonic()
    with pytest.raises(modkit.BackendError, match=f"cannot connect to {closed_url}") as info:
        modkit.moderate(texts, backend=backend, cache=None, progress=False, batch_size=8)
    assert time.monotonic() - started < 5
    partial = info.value.partial
    assert len(partial) == len(texts)  # every row accounted for, none scored
    assert partial["error"].str.startswith("not scored: run stopped: cannot connect").all()


def test_the_cli_says_cannot_connect_in_one_line(tmp_path, capsys, closed_url):
    src, out = tmp_path / "in.txt", tmp_path / "o.csv"
    src.write_text("one\ntwo\n", encoding="utf-8")
    started = time.monotonic()
    argv = ["moderate", str(src), "-o", str(out), "--backend", "openai", "--base-url", closed_url]
    code = main([*argv, "--no-cache", "--no-progress"])
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"modkit moderate: error: cannot connect to {closed_url}" in err
    assert modkit.read_table(out)["error"].astype(bool).all()  # the rows are written
