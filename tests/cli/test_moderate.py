"""``modkit moderate INPUT -o OUTPUT``, in-process through ``modkit.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from modkit import read_table
from modkit.backends import PROBE_TEXT
from modkit.cli import main
from modkit.testing import Fault, FaultServer

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "data" / "openai-forum-2023.jsonl"
TEXTS = ["first text", "second, with a comma", 'third "quoted"', "first text", "fourth ✓"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def srv():
    with FaultServer() as server:
        yield server


def _write_input(path: Path, texts: list[str]) -> None:
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
    if path.suffix == ".txt":
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)


def _openai_args(srv: FaultServer) -> list[str]:
    return ["--backend", "openai", "--base-url", srv.url]


@pytest.mark.parametrize("in_ext", [".txt", ".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("out_ext", [".csv", ".jsonl", ".parquet"])
def test_formats_round_trip(tmp_path, srv, in_ext, out_ext, capsys):
    src, out = tmp_path / f"in{in_ext}", tmp_path / f"out{out_ext}"
    _write_input(src, TEXTS)
    code = main(["moderate", str(src), "-o", str(out), *_openai_args(srv), "--no-cache"])
    assert code == 0
    assert f"5 rows -> {out}" in capsys.readouterr().err
    df = read_table(out)
    assert df["text"].tolist() == TEXTS
    if in_ext != ".txt":
        assert df["id"].tolist() == list(range(5))
    assert (df["error"].fillna("") == "").all()
    for row in df.to_dict("records"):
        sent = srv.result_for(row["text"])
        for key, value in sent["category_scores"].items():
            assert row[key] == pytest.approx(value, rel=1e-12, abs=0)
        assert json.loads(row["result_json"]) == sent
    assert srv.sent_counts() == dict.fromkeys(set(TEXTS), 1)


def test_cache_option_and_no_cache(tmp_path, srv):
    src = tmp_path / "in.txt"
    _write_input(src, TEXTS)
    cache = tmp_path / "my.sqlite3"
    args = ["moderate", str(src), *_openai_args(srv)]
    assert main([*args, "-o", str(tmp_path / "a.csv"), "--cache", str(cache)]) == 0
    assert main([*args, "-o", str(tmp_path / "b.csv"), "--cache", str(cache)]) == 0
    # the second run came from the cache: it only asked which snapshot the alias is today
    assert [r.inputs for r in srv.moderation_requests()][1:] == [[PROBE_TEXT]]
    pd.testing.assert_frame_equal(read_table(tmp_path / "a.csv"), read_table(tmp_path / "b.csv"))
    assert main([*args, "-o", str(tmp_path / "c.csv"), "--no-cache"]) == 0
    assert len(srv.moderation_requests()) == 3
    assert not (tmp_path / "default-cache").exists()
    assert main([*args, "-o", str(tmp_path / "d.csv")]) == 0  # default: the user cache
    assert (tmp_path / "default-cache" / "moderations.sqlite3").exists()


def test_batch_size_and_concurrency_options(tmp_path, srv):
    src = tmp_path / "in.txt"
    _write_input(src, [f"t{i}" for i in range(10)])
    code = main(
        [
            "moderate",
            str(src),
            "-o",
            str(tmp_path / "o.csv"),
            *_openai_args(srv),
            "--no-cache",
            "--batch-size",
            "3",
            "--concurrency",
            "1",
        ]
    )
    assert code == 0
    assert [len(r.inputs) for r in srv.moderation_requests()] == [3, 3, 3, 1]


def test_replay_backend_and_text_column(tmp_path, capsys):
    recs = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]
    src = tmp_path / "in.jsonl"
    pd.DataFrame({"body": [r["input"] for r in recs] + ["not recorded"]}).to_json(
        src, orient="records", lines=True
    )
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "moderate",
            str(src),
            "-o",
            str(out),
            "--backend",
            "replay",
            "--replay",
            str(REPLAY),
            "--text-column",
            "body",
            "--no-cache",
        ]
    )
    assert code == 0
    assert "(1 failed; see the 'error' column)" in capsys.readouterr().err
    df = read_table(out)
    assert df["body"].tolist()[:-1] == [r["input"] for r in recs]
    assert df["violence"].iloc[0] == pytest.approx(recs[0]["result"]["category_scores"]["violence"])
    assert "no replay record" in df["error"].iloc[-1]


def test_authentication_failure_is_one_clear_line(tmp_path, capsys):
    with FaultServer(api_key="sk-other") as srv:
        src = tmp_path / "in.txt"
        _write_input(src, TEXTS)
        code = main(
            ["moderate", str(src), "-o", str(tmp_path / "o.csv"), *_openai_args(srv), "--no-cache"]
        )
    err = capsys.readouterr().err
    assert code == 1
    assert "modkit moderate: error: authentication failed: check OPENAI_API_KEY" in err
    assert "Traceback" not in err and "sk-test-cli" not in err


def test_quota_error_writes_partial_results(tmp_path, srv, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "o.jsonl"
    _write_input(src, [f"t{i}" for i in range(6)])
    srv.push(Fault.slow(0), Fault.quota())
    code = main(
        [
            "moderate",
            str(src),
            "-o",
            str(out),
            *_openai_args(srv),
            "--no-cache",
            "--batch-size",
            "2",
            "--concurrency",
            "1",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "partial results written" in err and "quota" in err
    df = read_table(out)
    assert (df["error"].fillna("") == "").tolist() == [True, True, False, False, False, False]
    assert df["error"].iloc[2].startswith("not scored: run stopped")


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("missing.txt", None, "missing.txt: file not found"),
        ("in.xlsx", b"whatever", "unsupported input format '.xlsx'"),
        ("bad.jsonl", b'{"text": "a"}\n{"text": oops}\n', r"bad\.jsonl:2:"),
        ("notext.csv", b"id,body\n1,hello\n", "no 'text' column"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, name, content, match):
    src = tmp_path / name
    if content is not None:
        src.write_bytes(content)
    code = main(
        [
            "moderate",
            str(src),
            "-o",
            str(tmp_path / "o.csv"),
            "--backend",
            "replay",
            "--replay",
            str(REPLAY),
            "--no-cache",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert pytest.importorskip("re").search(match, err), err
    assert "Traceback" not in err


def test_bad_output_format_and_replay_without_file(tmp_path, capsys):
    src = tmp_path / "in.txt"
    _write_input(src, ["a"])
    assert (
        main(
            [
                "moderate",
                str(src),
                "-o",
                str(tmp_path / "o.xlsx"),
                "--backend",
                "replay",
                "--replay",
                str(REPLAY),
                "--no-cache",
            ]
        )
        == 1
    )
    assert "unsupported output format '.xlsx'" in capsys.readouterr().err
    assert (
        main(
            [
                "moderate",
                str(src),
                "-o",
                str(tmp_path / "o.csv"),
                "--backend",
                "replay",
                "--no-cache",
            ]
        )
        == 1
    )
    assert "--replay PATH" in capsys.readouterr().err
