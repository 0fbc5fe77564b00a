"""``modkit datasets list|info|path|verify`` through ``modkit.cli.main``."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from modkit.cli import main
from modkit.datasets import dataset_info, list_datasets

SHARED = Path(
    os.environ.get("MODKIT_TEST_SHARED_DATA", Path(__file__).parents[3] / "shared" / "datasets")
)
pytestmark = pytest.mark.skipif(
    not (SHARED / "README.md").is_file(), reason=f"shared data sets not at {SHARED}"
)
N_FILES = sum(len(d.files) for d in list_datasets())


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("MODKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("MODKIT_DATASET_MIRROR", raising=False)
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODKIT_OFFLINE", "1")
    return tmp_path


def _copy(dest_dir: Path, filename: str) -> Path:
    dest = dest_dir / filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHARED / filename, dest)
    return dest


def test_list_shows_found_and_missing(env, monkeypatch, capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "PARTS", "LICENSE", "FOUND"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == {d.name for d in list_datasets()}
    assert all(row[-1] == "no" for row in rows.values())
    assert rows["hatecheck"][1:3] == ["test_suite_cases,template_placeholders", "CC-BY-4.0"]

    partial = env / "partial"
    _copy(partial, "dixon-madlibber/words.csv")
    assert main(["datasets", "list", "--data-dir", str(partial)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["dixon-madlibber"].endswith("1/3 parts")

    monkeypatch.setenv("MODKIT_DATA_DIR", str(SHARED))
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[-1] for line in out] == ["yes"] * len(list_datasets())


def test_path_prints_the_verified_file(env, monkeypatch, capsys):
    monkeypatch.setenv("MODKIT_DATA_DIR", str(SHARED))
    assert main(["datasets", "path", "dixon-madlibber", "--part", "words"]) == 0
    assert capsys.readouterr().out.strip() == str(SHARED / "dixon-madlibber" / "words.csv")
    assert main(["datasets", "path", "hatecheck"]) == 0
    assert capsys.readouterr().out.strip() == str(SHARED / "hatecheck-test-suite-cases.csv")


def test_path_errors_are_one_clear_message(env, capsys):
    assert main(["datasets", "path", "hatecheck", "--part", "cases"]) == 1
    err = capsys.readouterr().err
    assert "no part 'cases'" in err
    assert "test_suite_cases, template_placeholders" in err
    assert "Traceback" not in err

    assert main(["datasets", "path", "nope"]) == 1
    assert "valid names: openai-moderation-1680" in capsys.readouterr().err

    assert main(["datasets", "path", "simplesafetytests"]) == 1
    err = capsys.readouterr().err
    assert str(env / "cache" / "datasets" / "simplesafetytests.csv") in err
    assert dataset_info("simplesafetytests").files[0].url in err


def test_verify_all_ok(env, monkeypatch, capsys):
    monkeypatch.setenv("MODKIT_DATA_DIR", str(SHARED))
    assert main(["datasets", "verify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == N_FILES
    assert all(line.startswith("ok ") for line in lines)


def test_verify_reports_missing_and_corrupt(env, capsys):
    folder = env / "d"
    for info in list_datasets():
        for entry in info.files:
            _copy(folder, entry.filename)
    bad = folder / "openai-moderation-1680.jsonl.gz"
    bad.write_bytes(bad.read_bytes()[:-1])
    (folder / "dixon-madlibber" / "words.csv").unlink()
    assert main(["datasets", "verify", "--data-dir", str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == N_FILES
    by_file = {line.split()[1]: line for line in lines}
    corrupt = by_file["openai-moderation-1680/samples"]
    assert corrupt.startswith("corrupt ")
    assert str(bad) in corrupt
    assert hashlib.sha256(bad.read_bytes()).hexdigest() in corrupt
    missing = by_file["dixon-madlibber/words"]
    assert missing.startswith("missing ")
    assert str(folder / "dixon-madlibber" / "words.csv") in missing
    assert sum(line.startswith("ok ") for line in lines) == N_FILES - 2
    assert f"2 of {N_FILES} files missing or corrupt" in captured.err

    assert main(["datasets", "verify", "hatecheck", "--data-dir", str(folder)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_info_gives_license_citation_and_use(env, capsys):
    assert main(["datasets", "info", "hatecheck"]) == 0
    out = capsys.readouterr().out
    info = dataset_info("hatecheck")
    assert info.citation in out
    assert "license: CC-BY-4.0" in out
    assert "training allowed: no" in out
    for entry in info.files:
        assert entry.url in out
        assert entry.sha256 in out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_path_downloads_through_a_mirror(env, monkeypatch, capsys):
    monkeypatch.delenv("MODKIT_OFFLINE")
    entry = dataset_info("hatecheck").file("template_placeholders")
    root = env / "mirror"
    dest = root / entry.repo / entry.commit / entry.path
    dest.parent.mkdir(parents=True)
    shutil.copyfile(SHARED / entry.filename, dest)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        argv = ["datasets", "path", "hatecheck", "--part", "template_placeholders"]
        assert main([*argv, "--no-download", "--mirror", url]) == 1
        assert "download=False" in capsys.readouterr().err
        assert main([*argv, "--mirror", url]) == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    cached = env / "cache" / "datasets" / entry.filename
    assert capsys.readouterr().out.strip() == str(cached)
    assert cached.read_bytes() == (SHARED / entry.filename).read_bytes()
