"""The CLI never prints a traceback: one line naming the problem, a non-zero exit, no
temporary file left behind, and whatever was scored written out."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modkit
from modkit.cli import main
from modkit.templates import MAX_NESTING


def _run(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err  # one line
    return code, err.strip()


def _yaml(path, templates: list[str], wildcards: dict[str, list[str]] | None = None):
    import json

    lines = ["templates:", *(f"  - {json.dumps(t)}" for t in templates)]
    if wildcards:
        lines.append("wildcards:")
        lines += [f"  {k}: {json.dumps(v)}" for k, v in wildcards.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5_000])
def test_deeply_nested_slots_are_one_line(tmp_path, capsys, depth):
    src = _yaml(tmp_path / "t.yaml", ["{a|" * depth + "x" + "}" * depth])
    code, err = _run(["expand", src, "-o", tmp_path / "p.csv"], capsys)
    assert code == 1
    assert f"slots nested more than {MAX_NESTING} deep" in err and "t.yaml:2:" in err
    assert not (tmp_path / "p.csv").exists()


def test_nesting_at_the_limit_still_expands(tmp_path, capsys):
    src = _yaml(tmp_path / "t.yaml", ["{a|" * MAX_NESTING + "x" + "}" * MAX_NESTING])
    code, _ = _run(["expand", src, "-o", tmp_path / "p.csv"], capsys)
    assert code == 0
    assert len(modkit.read_table(tmp_path / "p.csv")) == MAX_NESTING + 1


def test_a_long_chain_of_wildcards_is_one_line(tmp_path, capsys):
    n = 3_000
    chain = {f"w{i}": [f"{{w{i + 1}}}"] for i in range(n)} | {f"w{n}": ["end"]}
    src = _yaml(tmp_path / "t.yaml", ["{w0}"], chain)
    code, err = _run(["expand", src, "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and f"wildcards nested more than {MAX_NESTING} deep" in err


def test_slots_within_wildcards_within_slots_are_one_line(tmp_path, capsys):
    n, depth = 60, 60
    lists = {
        f"w{i}": ["{a|" * depth + (f"{{w{i + 1}}}" if i < n else "end") + "}" * depth]
        for i in range(1, n + 1)
    }
    src = _yaml(tmp_path / "t.yaml", ["{w1}"], lists)
    code, err = _run(["expand", src, "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "nested too deeply" in err


@pytest.mark.parametrize("seed", ["-1", "-99999999999999999999"])
def test_a_negative_seed_is_one_line(tmp_path, capsys, seed):
    src = _yaml(tmp_path / "t.yaml", ["a {x|y} b"])
    code, err = _run(
        ["expand", src, "--sample", "1", "--seed", seed, "-o", tmp_path / "p.csv"], capsys
    )
    assert code == 1 and "seed must be a non-negative integer" in err


def _outputs(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "link").symlink_to(folder, target_is_directory=True)
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "afile").write_text("x")
    return {
        "a directory": (folder, "is a directory"),
        "a directory named like a file": (tmp_path / "dir.csv", "is a directory"),
        "a symlink to a directory": (tmp_path / "link", "is a directory (a link to one)"),
        "under a file": (tmp_path / "afile" / "x.csv", "is not a folder"),
    }


@pytest.mark.parametrize(
    "case",
    ["a directory", "a directory named like a file", "a symlink to a directory", "under a file"],
)
@pytest.mark.parametrize("command", ["moderate", "expand", "apply"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(
    tmp_path, capsys, case, command
):
    out, message = _outputs(tmp_path)[case]
    texts = tmp_path / "in.txt"
    texts.write_text("hello\n", encoding="utf-8")
    argv = {
        "moderate": ["moderate", texts, "--backend", "replay", "--replay", "no-such-file.jsonl"],
        "expand": ["expand", _yaml(tmp_path / "t.yaml", ["a {x|y}"])],
        "apply": ["apply", "no-such-thresholds.json", texts],
    }[command]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, err = _run([*argv, "-o", out], capsys)
    assert code == 1
    assert message in err and str(out) in err  # checked before the missing inputs
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    src = _yaml(tmp_path / "t.yaml", ["a {x|y}"])
    code, err = _run(["expand", src, "-o", ro / "p.csv"], capsys)
    assert code == 1 and "no permission" in err


def test_non_utf8_jsonl_is_one_line_naming_the_line(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    code, err = _run(["moderate", src, "-o", tmp_path / "o.csv", "--no-cache"], capsys)
    assert code == 1 and "in.jsonl:2:14: not UTF-8 (byte 0xe9)" in err
    assert not (tmp_path / "o.csv").exists()


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b"], "mixed": pd.Series([1, "x"], dtype=object)})
    with pytest.raises(modkit.InputError, match="cannot write parquet"):
        modkit.write_table(frame, tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    template=st.lists(
        st.sampled_from([*"{}|:\\#ab ", "{a|", "{w}", "{w#2}", "{n: "]), max_size=30
    ).map("".join)
)
def test_any_template_is_expanded_or_refused_in_one_line(tmp_path, capsys, template):
    src = _yaml(tmp_path / "t.yaml", [template], {"w": ["{a|b}", "c"]})
    code = main(["expand", str(src), "-o", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected error" not in err
    assert code in (0, 1)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
