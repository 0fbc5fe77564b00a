"""Every text and every score round-trips exactly through every input and output format.

Property tests draw texts from all of Unicode, with the characters people report
trouble with drawn often: CR, LF, line and paragraph separators, NEL, BOM, NUL, quotes,
commas, tabs and lone surrogates (a truncated emoji is valid in JSON).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from _fakes import HashBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modkit
from modkit.cli import main

SPECIAL = [
    "\r",
    "\n",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\x00",
    '"',
    "'",
    ",",
    "\t",
    "\x0b",
    "\x0c",
    "\x1c",
    "\\",
    " ",
    "\U0001f600",
]
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
ANY_CHAR = st.one_of(st.characters(), st.sampled_from(SPECIAL), SURROGATES)
UTF8_CHAR = st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL))

any_text = st.lists(ANY_CHAR, max_size=12).map("".join)
utf8_text = st.lists(UTF8_CHAR, max_size=12).map("".join)
# any float a score column may hold, NaN (= not scored) included
score = st.one_of(st.floats(0, 1), st.floats(allow_nan=False), st.just(float("nan")))


def _same_floats(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan = np.isnan(a)
    same_bits = (a[~nan].view(np.int64) == b[~nan].view(np.int64)).all()
    return bool((nan == np.isnan(b)).all() and same_bits)


def _table(texts: list[str], scores: list[float]) -> pd.DataFrame:
    n = min(len(texts), len(scores))
    return pd.DataFrame(
        {
            "text": pd.Series(texts[:n], dtype=object),
            "violence": np.array(scores[:n], dtype=float),
            "self-harm/intent": np.array(scores[:n][::-1], dtype=float),
        }
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(any_text, min_size=1, max_size=8), scores=st.lists(score, min_size=8))
def test_jsonl_keeps_every_text_and_score_exactly(tmp_path, texts, scores):
    frame = _table(texts, scores)
    back = modkit.read_table(modkit.write_table(frame, tmp_path / "t.jsonl"))
    # JSON's one ambiguity: the two code points of a surrogate pair written as separate
    # escapes read back as the character the pair stands for, in every JSON reader.
    assert back["text"].tolist() == [json.loads(json.dumps(t)) for t in frame["text"]]
    if not any("\ud800" <= ch <= "\udfff" for t in frame["text"] for ch in t):
        assert back["text"].tolist() == frame["text"].tolist()
    for c in ("violence", "self-harm/intent"):
        assert _same_floats(back[c], frame[c])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(utf8_text, min_size=1, max_size=8), scores=st.lists(score, min_size=8))
def test_csv_and_parquet_keep_every_text_and_score_exactly(tmp_path, suffix, texts, scores):
    frame = _table(texts, scores)
    back = modkit.read_table(modkit.write_table(frame, tmp_path / f"t{suffix}"))
    assert len(back) == len(frame)
    assert back["text"].tolist() == frame["text"].tolist()
    for c in ("violence", "self-harm/intent"):
        assert _same_floats(back[c], frame[c])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(any_text, min_size=1, max_size=6))
def test_utf8_formats_write_lone_surrogates_as_replacement_chars(tmp_path, suffix, texts):
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    back = modkit.read_table(modkit.write_table(frame, tmp_path / f"t{suffix}"))
    expected = [modkit._text.replace_surrogates(t) for t in texts]
    assert back["text"].tolist() == expected  # same rows, same order, nothing dropped


def test_a_lone_surrogate_is_written_with_a_warning(tmp_path, caplog):
    frame = pd.DataFrame({"text": pd.Series(["ok", "cut \ud83d", "fine"], dtype=object)})
    with caplog.at_level(logging.WARNING, logger="modkit"):
        modkit.write_table(frame, tmp_path / "t.csv")
    assert "1 row(s) hold a lone surrogate" in caplog.text
    assert modkit.read_table(tmp_path / "t.csv")["text"].tolist() == ["ok", "cut \ufffd", "fine"]


# A .txt text is anything without LF that does not end in CR (a CRLF line end drops it).
txt_text = utf8_text.filter(lambda t: "\n" not in t and not t.endswith("\r"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(txt_text, max_size=8),
    line_end=st.sampled_from(["\n", "\r\n"]),
    final=st.booleans(),
    bom=st.booleans(),
)
def test_txt_lines_are_exactly_the_texts(tmp_path, texts, line_end, final, bom):
    # each text then a line end; the last line end may be left out unless the last
    # text is empty (else the file would end in the line end of the text before)
    final = bool(texts) and (final or texts[-1] == "")
    # a file's first U+FEFF is a byte-order mark: a first text starting with one needs a BOM
    bom = bom or bool(texts and texts[0].startswith("\ufeff"))
    body = line_end.join(texts) + (line_end if final else "")
    path = tmp_path / "in.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))
    assert modkit.read_table(path)["text"].tolist() == texts


def test_txt_line_is_everything_between_two_lfs(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("a\rb\n\u2028c\x85\n\x0c\x00\n\ufeffd\r\n\n e \n".encode())
    assert modkit.read_table(path)["text"].tolist() == [
        "a\rb",
        "\u2028c\x85",
        "\x0c\x00",
        "\ufeffd",  # a BOM is dropped only at the very start of the file
        "",
        " e ",
    ]


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("in.txt", b"fine\nbad \xff here\n", "in.txt:2:5: not UTF-8 (byte 0xff)"),
        ("in.csv", b"text\nfine\n\xc3(\n", "in.csv:3:1: not UTF-8 (byte 0xc3)"),
        ("in.jsonl", b'{"text": "a"}\n{"text": "\xed\xa0\xbd"}\n', "in.jsonl:2:11: not UTF-8"),
    ],
)
def test_non_utf8_input_names_its_line(tmp_path, name, data, where):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(modkit.InputError, match=where.replace("(", r"\(").replace(")", r"\)")):
        modkit.read_table(tmp_path / name)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "text,group\nfine,a\nan unquoted, comma,b\nlast,c\n",
            r"in\.csv:3: 3 fields where the header has 2",
        ),
        ("text,group\nfine,a\nmissing\n", r"in\.csv:3: 1 fields where the header has 2"),
        ('text,group\n"fine" x,a\n', r"in\.csv:2: malformed CSV"),
        ('text,group\n"never closed,a\n', r"in\.csv:\d+: malformed CSV"),
        ("text,text\na,b\n", r"in\.csv:1: column names repeated"),
        ("", r"in\.csv: empty file"),
    ],
)
def test_malformed_csv_is_an_error_naming_its_line(tmp_path, body, message):
    (tmp_path / "in.csv").write_text(body, encoding="utf-8", newline="")
    with pytest.raises(modkit.InputError, match=message):
        modkit.read_table(tmp_path / "in.csv")


def test_csv_cells_are_typed_per_column_and_texts_stay_texts(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('text,n,x,ok,label\n1,1,0.5,True,1\n"",2,,False,\n', encoding="utf-8")
    back = modkit.read_table(path)
    assert back["text"].tolist() == ["1", ""]
    assert back["n"].tolist() == [1, 2]
    assert back["x"].iloc[0] == 0.5 and np.isnan(back["x"].iloc[1])
    assert back["ok"].tolist() == [True, False]
    assert back["label"].iloc[0] == 1.0 and np.isnan(back["label"].iloc[1])


def _moderate_cli(tmp_path, texts, src_suffix, out_suffix, capsys):
    src = tmp_path / f"in{src_suffix}"
    if src_suffix == ".jsonl":
        src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    else:
        modkit.write_table(pd.DataFrame({"text": texts}), src)
    out = tmp_path / f"scores{out_suffix}"
    argv = ["moderate", str(src), "-o", str(out), "--backend", "local", "--no-cache"]
    code = main([*argv, "--no-progress"])
    return code, out, capsys.readouterr().err


@pytest.mark.parametrize("out_suffix", [".csv", ".jsonl", ".parquet"])
def test_cr_inside_a_text_keeps_rows_aligned_through_the_cli(tmp_path, capsys, out_suffix):
    texts = ["one", "two\rthree", "four"]
    code, out, _ = _moderate_cli(tmp_path, texts, ".jsonl", out_suffix, capsys)
    assert code == 0
    back = modkit.read_table(out)
    assert back["text"].tolist() == texts
    direct = modkit.moderate(texts, cache=None, progress=False)
    assert _same_floats(back["violence"], direct["violence"])


def test_a_lone_surrogate_fails_only_its_own_row():
    texts = ["a fine text", "truncated emoji \ud83d", "another"]
    df = modkit.moderate(texts, backend=HashBackend(), cache=None, progress=False)
    assert df["error"].tolist()[0] == "" and df["error"].tolist()[2] == ""
    assert "lone surrogate U+D83D at character 16" in df["error"].iloc[1]
    assert df["violence"].notna().tolist() == [True, False, True]


def test_the_cli_scores_the_rest_and_writes_a_lone_surrogate_row(tmp_path, capsys):
    texts = ["a fine text", "truncated emoji \ud83d", "another"]
    code, out, err = _moderate_cli(tmp_path, texts, ".jsonl", ".jsonl", capsys)
    assert code == 0, err
    assert "1 failed" in err
    back = modkit.read_table(out)
    assert back["text"].tolist() == texts  # JSONL keeps the text exactly
    assert back["error"].astype(bool).tolist() == [False, True, False]
