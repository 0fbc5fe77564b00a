"""Perspective's end of service (2026-12-31): the backend warns after it, with the replay and
migration commands; the date is injected (``today=``) so the check is testable."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit.backends import PERSPECTIVE_END_DATE, perspective_end_message
from modkit.testing import PerspectiveFake


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def test_after_the_end_date_the_backend_warns_with_the_commands_and_still_works():
    with (
        PerspectiveFake(api_key="k") as fake,
        pytest.warns(modkit.ServiceEndWarning) as caught,
    ):
        backend = modkit.backends.PerspectiveBackend(
            base_url=fake.url, api_key="k", today="2027-01-01"
        )
        with backend:
            df = modkit.moderate(["a comment"], backend=backend, cache=None, progress=False)
    assert (df["error"] == "").all()  # a recording or a still-answering mirror keeps working
    message = str(caught[0].message)
    assert "stopped serving after 2026-12-31 (today is 2027-01-01)" in message
    assert "--backend replay --replay perspective.jsonl" in message
    assert "modkit.fit_migration(" in message


def test_up_to_the_end_date_nothing_is_said():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        modkit.backends.PerspectiveBackend(
            base_url="http://127.0.0.1:9", today=dt.date(2026, 12, 31)
        )
        modkit.make_backend("perspective", base_url="http://127.0.0.1:9", today="2026-06-01")


def test_make_backend_takes_today_and_refuses_a_bad_date():
    with pytest.warns(modkit.ServiceEndWarning):
        modkit.make_backend("perspective", base_url="http://127.0.0.1:9", today="2027-03-01")
    with pytest.raises(modkit.InputError, match="today must be a date"):
        modkit.make_backend("perspective", base_url="http://127.0.0.1:9", today="31/12/2027")


def test_cli_prints_the_warning_on_one_line(tmp_path):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("a comment\n", encoding="utf-8")
    env = {**os.environ, "PERSPECTIVE_API_KEY": "k", "MODKIT_CACHE_DIR": str(tmp_path / "c")}
    with PerspectiveFake(api_key="k") as fake:
        done = subprocess.run(
            [sys.executable, "-m", "modkit", "moderate", str(src), "-o", str(out), "--backend",
             "perspective", "--base-url", fake.url, "-O", "today=2027-02-01", "--no-progress"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [x for x in done.stderr.splitlines() if "stopped serving" in x]
    assert len(lines) == 1 and lines[0].startswith("modkit: perspective: the Perspective API")
    assert "Traceback" not in done.stderr


@given(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31)))
def test_the_warning_depends_only_on_whether_today_is_past_the_end(day):
    message = perspective_end_message(day)
    assert (message is not None) == (day > PERSPECTIVE_END_DATE)
    assert perspective_end_message(day.isoformat()) == message
    if message:
        assert f"(today is {day})" in message
