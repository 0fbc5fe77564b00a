"""``modkit expand``: through ``modkit.cli.main`` and once as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from modkit import read_table
from modkit.cli import main
from modkit.templates import expand

FIXTURES = Path(__file__).parents[1] / "fixtures" / "templates"
EXAMPLES = Path(__file__).parents[2] / "data" / "templates" / "examples.yaml"


def test_expand_writes_the_same_prompts_as_the_api(tmp_path, capsys):
    out = tmp_path / "prompts.csv"
    code = main(
        ["expand", str(FIXTURES / "basic.yaml"), "--wildcards", str(FIXTURES / "wildcards"),
         "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    written = read_table(out)
    expected = expand(FIXTURES / "basic.yaml", FIXTURES / "wildcards")
    assert list(written.columns) == list(expected.columns)
    assert written["text"].tolist() == expected["text"].tolist()
    assert written["template_id"].tolist() == expected["template_id"].tolist()
    # a slot a template does not have is an empty cell
    assert written["group"].tolist() == expected["group"].fillna("").tolist()
    assert f"{len(expected)} prompts from 3 template(s)" in capsys.readouterr().err


def test_sample_and_seed_are_reproducible(tmp_path):
    paths = [tmp_path / f"{i}.jsonl" for i in range(3)]
    for path, seed in zip(paths, [5, 5, 6], strict=True):
        args = ["expand", str(EXAMPLES), "--sample", "30", "--seed", str(seed), "-o", str(path)]
        assert main(args) == 0
    first, second, third = (pd.read_json(p, lines=True) for p in paths)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 30 and first["text"].is_unique
    assert set(first["text"]) != set(third["text"])
    api = expand(EXAMPLES, sample=30, seed=5)
    assert first["text"].tolist() == api["text"].tolist()


def test_limit_error_says_how_many_and_how_to_raise_it(tmp_path, capsys):
    out = tmp_path / "p.csv"
    code = main(["expand", str(EXAMPLES), "--limit", "10", "-o", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    total = len(expand(EXAMPLES))
    assert f"{total:,} prompts" in err and "--limit" in err and "--sample" in err
    assert not out.exists()
    assert main(["expand", str(EXAMPLES), "--limit", "0", "-o", str(out)]) == 0
    assert len(read_table(out)) == total


def test_malformed_template_reports_file_line_and_template(tmp_path, capsys):
    code = main(["expand", str(FIXTURES / "bad_brace.yaml"), "-o", str(tmp_path / "p.csv")])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{FIXTURES / 'bad_brace.yaml'}:5:" in err
    assert "template 'broken'" in err and "position 17" in err
    assert "Traceback" not in err


def test_unknown_wildcard_without_folder(tmp_path, capsys):
    code = main(["expand", str(FIXTURES / "basic.yaml"), "-o", str(tmp_path / "p.csv")])
    assert code == 1
    assert "unknown wildcard {people/group}" in capsys.readouterr().err


def test_txt_file_has_one_template_per_line(tmp_path):
    source = tmp_path / "t.txt"
    source.write_text("# comment\n{a|b} one\n\nplain two\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    assert main(["expand", str(source), "-o", str(out)]) == 0
    written = read_table(out)
    assert written["template_id"].tolist() == ["line2", "line2", "line4"]
    assert written["text"].tolist() == ["a one", "b one", "plain two"]


def test_count_prints_sizes_without_writing(capsys):
    assert main(["expand", str(EXAMPLES), "--count"]) == 0
    lines = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    sizes = expand(EXAMPLES).groupby("template_id").size()
    for template_id, size in sizes.items():
        assert int(lines[template_id]) == size
    assert int(lines["total"]) == sizes.sum()


def test_without_output_the_prompts_go_to_stdout_as_the_csv_o_writes(tmp_path, capsys):
    assert main(["expand", str(EXAMPLES), "-o", str(tmp_path / "p.csv")]) == 0
    capsys.readouterr()
    assert main(["expand", str(EXAMPLES)]) == 0
    printed = capsys.readouterr()
    assert printed.out == (tmp_path / "p.csv").read_bytes().decode("utf-8")
    assert "-> standard output" in printed.err


def test_wrong_file_type(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text("{}", encoding="utf-8")
    assert main(["expand", str(path), "-o", str(tmp_path / "p.csv")]) == 1
    assert ".yaml" in capsys.readouterr().err


def test_runs_as_a_subprocess(tmp_path):
    out = tmp_path / "p.csv"
    result = subprocess.run(
        [sys.executable, "-m", "modkit", "expand", str(EXAMPLES), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    hurt = read_table(out).query("template_id == 'hurt-plan'")
    assert hurt["group"].tolist() == ["woman", "man", "Jew", "Christian", "baby"]
