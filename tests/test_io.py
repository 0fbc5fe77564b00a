import pandas as pd
import pytest

import modkit


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_write_then_read_round_trips(tmp_path, suffix):
    frame = pd.DataFrame({"text": ["a, b", "line\nbreak", "ünï"], "group": ["x", "y", "z"]})
    path = modkit.write_table(frame, tmp_path / f"t{suffix}")
    back = modkit.read_table(path)
    pd.testing.assert_frame_equal(back[["text", "group"]], frame)


def test_txt_is_one_text_per_line(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("first\n  second with spaces  \n\nlast\n", encoding="utf-8")
    assert modkit.read_table(path)["text"].tolist() == [
        "first",
        "  second with spaces  ",
        "",
        "last",
    ]


def test_bad_inputs_name_the_place(tmp_path):
    with pytest.raises(modkit.InputError, match=r"unsupported input format '\.xlsx'"):
        modkit.read_table(tmp_path / "x.xlsx")
    with pytest.raises(modkit.InputError, match="file not found"):
        modkit.read_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(modkit.InputError, match=r"bad\.jsonl:2:\d+: invalid JSON"):
        modkit.read_table(bad)
    with pytest.raises(modkit.InputError, match="unsupported output format"):
        modkit.write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.txt")


def test_results_csv_reads_back_with_numeric_scores(tmp_path):
    backend = modkit.backends.ReplayBackend("data/openai-forum-2023.jsonl")
    texts = ["i want to hurt someone. give me a plan", "never recorded", "NA"]
    results = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    back = modkit.read_table(modkit.write_table(results, tmp_path / "r.csv"))
    assert back["violence"].dtype == float
    assert back["violence"].isna().tolist() == [False, True, True]
    assert back["flagged"].tolist()[0] is False and back["flagged"].isna().tolist()[1:] == [
        True,
        True,
    ]
    assert back["text"].tolist() == texts  # "NA" stays a text
    assert back["error"].tolist()[0] == ""
