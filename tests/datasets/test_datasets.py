"""The dataset registry: lookup, sha256 checks, downloads through a local mirror, parsers."""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import http.server
import json
import math
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modkit import DatasetError
from modkit.datasets import (
    DatasetInfo,
    _store,
    dataset_info,
    dataset_path,
    list_datasets,
    load_dataset,
    read_dataset_file,
    verify_datasets,
)

SHARED = Path(
    os.environ.get("MODKIT_TEST_SHARED_DATA", Path(__file__).parents[3] / "shared" / "datasets")
)
needs_shared = pytest.mark.skipif(
    not (SHARED / "README.md").is_file(), reason=f"shared data sets not at {SHARED}"
)

CONTRACT = {
    "openai-moderation-1680": ["samples"],
    "hatecheck": ["test_suite_cases", "template_placeholders"],
    "simplesafetytests": ["test_cases"],
    "multilingual-hatecheck": [
        "arabic",
        "dutch",
        "french",
        "german",
        "hindi",
        "italian",
        "mandarin",
        "polish",
        "portuguese",
        "spanish",
    ],
    "dixon-madlibber": ["sentence_templates", "intersectional_sentence_templates", "words"],
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No MODKIT_DATA_DIR, an empty private user cache, downloads off."""
    monkeypatch.delenv("MODKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("MODKIT_DATASET_MIRROR", raising=False)
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODKIT_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def shared(env, monkeypatch):
    monkeypatch.setenv("MODKIT_DATA_DIR", str(SHARED))
    return SHARED


def _copy(src: Path, dest_dir: Path, filename: str) -> Path:
    dest = dest_dir / filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / filename, dest)
    return dest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _readme_table() -> list[dict[str, str]]:
    """Rows of the provenance table in the shared README, '(same)' filled from above."""
    rows, previous = [], {}
    for line in (SHARED / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("file here", "---"):
            continue
        row = dict(zip(["file", "repo", "commit", "path", "license", "sha256"], cells, strict=True))
        row = {k: previous[k] if v == "(same)" else v for k, v in row.items()}
        row["path"] = re.sub(r"\s*\(spaces?:.*\)$", "", row["path"])
        rows.append(row)
        previous = row
    return rows


# --- the registry -------------------------------------------------------------------------


def test_registry_names_and_parts_follow_the_contract():
    assert {d.name: list(d.parts) for d in list_datasets()} == CONTRACT
    for info in list_datasets():
        assert dataset_info(info.name) is info
        assert info.default_part == CONTRACT[info.name][0]
        for entry in info.files:
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
            assert re.fullmatch(r"[0-9a-f]{40}", entry.commit)
            assert " " not in entry.url


@needs_shared
def test_registry_matches_the_shared_readme_and_files():
    table = {row["file"]: row for row in _readme_table()}
    entries = [e for d in list_datasets() for e in d.files]
    assert sorted(table) == sorted(e.filename for e in entries)
    for info in list_datasets():
        for entry in info.files:
            row = table[entry.filename]
            expected_url = (
                "https://raw.githubusercontent.com/"
                f"{row['repo']}/{row['commit']}/{row['path'].replace(' ', '%20')}"
            )
            assert entry.url == expected_url
            assert entry.sha256 == row["sha256"] == _sha(SHARED / entry.filename)
            assert info.license == row["license"]


def test_dataset_info_is_frozen_and_gives_an_attribution():
    info = dataset_info("hatecheck")
    assert isinstance(info, DatasetInfo)
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]
    assert "\n" not in info.attribution
    assert "Röttger" in info.attribution
    assert "CC-BY-4.0" in info.attribution
    assert info.trainable is False
    assert dataset_info("openai-moderation-1680").trainable is True


def test_unknown_name_and_part_list_the_valid_ones(env):
    with pytest.raises(DatasetError) as exc:
        load_dataset("hatechek")
    for name in CONTRACT:
        assert name in str(exc.value)
    with pytest.raises(DatasetError) as exc:
        dataset_path("dixon-madlibber", "word")
    assert "'word'" in str(exc.value)
    for part in CONTRACT["dixon-madlibber"]:
        assert part in str(exc.value)


# --- returned frames ----------------------------------------------------------------------


@needs_shared
def test_openai_1680_counts_match_the_readme(shared):
    frame = load_dataset("openai-moderation-1680")
    # positives / labelled, from the shared README
    expected = {
        "sexual": (237, 984),
        "hate": (162, 771),
        "violence": (94, 1450),
        "harassment": (76, 1444),
        "self-harm": (51, 1447),
        "sexual/minors": (85, 994),
        "hate/threatening": (41, 761),
        "violence/graphic": (24, 1447),
    }
    assert list(frame.columns) == ["text", *expected]
    assert len(frame) == 1680
    for key, (positives, labelled) in expected.items():
        column = frame[key]
        assert column.dtype == np.float64
        assert set(column.dropna().unique()) <= {0.0, 1.0}
        assert (int(column.sum()), int(column.notna().sum())) == (positives, labelled), key


@needs_shared
def test_openai_1680_matches_an_independent_read(shared):
    frame = load_dataset("openai-moderation-1680")
    with gzip.open(SHARED / "openai-moderation-1680.jsonl.gz", "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    codes = {
        "S": "sexual",
        "H": "hate",
        "V": "violence",
        "HR": "harassment",
        "SH": "self-harm",
        "S3": "sexual/minors",
        "H2": "hate/threatening",
        "V2": "violence/graphic",
    }
    assert frame["text"].tolist() == [r["prompt"] for r in records]
    for code, key in codes.items():
        got = frame[key].tolist()
        for value, record in zip(got, records, strict=True):
            if code in record:
                assert value == record[code]
            else:
                assert math.isnan(value)  # not labelled, never 0


@needs_shared
def test_hatecheck_cases(shared):
    frame = load_dataset("hatecheck")
    with (SHARED / "hatecheck-test-suite-cases.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(frame) == len(rows) == 3728
    for column in (
        "functionality",
        "case_id",
        "test_case",
        "label_gold",
        "target_ident",
        "direction",
        "case_templ",
        "templ_id",
        "text",
        "label",
    ):
        assert column in frame.columns
    assert frame["text"].tolist() == [r["test_case"] for r in rows]  # whitespace kept
    assert frame["text"].str.endswith(" ").any()
    assert frame["label"].dtype == np.int64
    assert frame["label"].tolist() == [int(r["label_gold"] == "hateful") for r in rows]
    assert frame["case_id"].tolist() == [int(r["case_id"]) for r in rows]
    assert frame["functionality"].nunique() == 29
    assert frame["target_ident"].isna().sum() == sum(r["target_ident"] == "" for r in rows)


@needs_shared
@pytest.mark.parametrize("language", ["german", "mandarin"])
def test_multilingual_hatecheck_part_per_language(shared, language):
    frame = load_dataset("multilingual-hatecheck", language)
    path = SHARED / "multilingual-hatecheck" / f"hatecheck_cases_final_{language}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(frame) == len(rows) > 3000
    assert frame["text"].tolist() == [r["test_case"] for r in rows]
    assert frame["label"].tolist() == [int(r["label_gold"] == "hateful") for r in rows]
    assert frame["mhc_case_id"].str.startswith(language).all()
    assert not dataset_info("multilingual-hatecheck").trainable


def test_multilingual_hatecheck_bad_label_names_the_line(tmp_path):
    path = tmp_path / "mhc.csv"
    path.write_text(
        "mhc_case_id,functionality,test_case,label_gold,target_ident\n"
        "german-1,f,Ich hasse Frauen.,hateful,women\n"
        "german-2,f,Hallo.,maybe,women\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match=r"line 3: label_gold .*'maybe'"):
        read_dataset_file(path, "multilingual-hatecheck", "german")


@needs_shared
def test_hatecheck_placeholders(shared):
    frame = load_dataset("hatecheck", "template_placeholders")
    assert list(frame.columns) == ["placeholder", "values"]
    with (SHARED / "hatecheck-template-placeholders.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    assert frame["placeholder"].tolist() == [r[0] for r in rows]
    assert frame["values"].tolist() == [[v.strip() for v in r[1].split(",")] for r in rows]
    identity = frame.set_index("placeholder").loc["[IDENTITY_P]", "values"]
    assert "trans people" in identity
    assert len(identity) == 7


@needs_shared
def test_simplesafetytests(shared):
    frame = load_dataset("simplesafetytests")
    assert list(frame.columns) == ["id", "harm_area", "counter", "category", "text"]
    with (SHARED / "simplesafetytests.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert frame["text"].tolist() == [r["prompts_final"] for r in rows]
    assert len(frame) == 100
    assert frame["harm_area"].value_counts().tolist() == [20] * 5


@needs_shared
@pytest.mark.parametrize("part", CONTRACT["dixon-madlibber"])
def test_dixon_madlibber_parts(shared, part):
    frame = load_dataset("dixon-madlibber", part)
    with (SHARED / "dixon-madlibber" / f"{part}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(frame.columns) == list(rows[0])
    for column in frame.columns:
        got = [None if isinstance(v, float) and math.isnan(v) else v for v in frame[column]]
        assert got == [r[column] or None for r in rows]


# --- lookup order, missing and corrupt files ----------------------------------------------


@needs_shared
def test_lookup_order_data_dir_then_env_then_cache(env, monkeypatch):
    name = "simplesafetytests.csv"
    first, second, cache = env / "first", env / "second", env / "cache" / "datasets"
    for folder in (first, second, cache):
        _copy(SHARED, folder, name)
    monkeypatch.setenv("MODKIT_DATA_DIR", str(second))
    assert dataset_path("simplesafetytests", data_dir=first) == first / name
    assert dataset_path("simplesafetytests") == second / name
    monkeypatch.delenv("MODKIT_DATA_DIR")
    assert dataset_path("simplesafetytests") == cache / name


@needs_shared
def test_nested_file_names_are_used(env):
    path = _copy(SHARED, env / "d", "dixon-madlibber/words.csv")
    assert dataset_path("dixon-madlibber", "words", data_dir=env / "d") == path


@needs_shared
def test_corrupt_file_names_file_and_both_digests(env):
    path = _copy(SHARED, env / "d", "hatecheck-test-suite-cases.csv")
    data = bytearray(path.read_bytes())
    data[100] ^= 1  # one flipped bit
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as exc:
        load_dataset("hatecheck", data_dir=env / "d")
    message = str(exc.value)
    assert str(path) in message
    assert dataset_info("hatecheck").files[0].sha256 in message
    assert _sha(path) in message
    assert "Fix" in message


@needs_shared
def test_verification_is_cached_until_the_file_changes(env, monkeypatch):
    path = _copy(SHARED, env / "d", "simplesafetytests.csv")
    calls = []
    real = hashlib.sha256

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_store.hashlib, "sha256", counting)
    for _ in range(3):
        dataset_path("simplesafetytests", data_dir=env / "d")
    assert len(calls) == 1
    text = path.read_text(encoding="utf-8").replace("kill myself", "kill  myself", 1)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    with pytest.raises(DatasetError, match="expected sha256"):
        dataset_path("simplesafetytests", data_dir=env / "d")
    assert len(calls) == 2


def test_missing_file_lists_every_place_and_the_url(env, monkeypatch):
    monkeypatch.setenv("MODKIT_DATA_DIR", str(env / "envdir"))
    with pytest.raises(DatasetError) as exc:
        load_dataset("dixon-madlibber", "words", data_dir=env / "argdir")
    message = str(exc.value)
    for folder in (env / "argdir", env / "envdir", env / "cache" / "datasets"):
        assert str(folder / "dixon-madlibber" / "words.csv") in message
    assert "MODKIT_DATA_DIR" in message
    assert dataset_info("dixon-madlibber").file("words").url in message


def test_download_false_forbids_even_when_online(env, monkeypatch):
    monkeypatch.delenv("MODKIT_OFFLINE")
    with pytest.raises(DatasetError, match="download=False"):
        dataset_path("simplesafetytests", download=False)


@needs_shared
def test_verify_datasets_reports_each_file(env):
    folder = env / "d"
    _copy(SHARED, folder, "simplesafetytests.csv")
    bad = _copy(SHARED, folder, "hatecheck-template-placeholders.csv")
    bad.write_bytes(bad.read_bytes() + b"\n")
    statuses = {(s.name, s.part): s for s in verify_datasets(data_dir=folder)}
    assert len(statuses) == sum(len(p) for p in CONTRACT.values())
    assert statuses["simplesafetytests", "test_cases"].ok
    corrupt = statuses["hatecheck", "template_placeholders"]
    assert (corrupt.status, corrupt.path) == ("corrupt", bad)
    assert _sha(bad) in corrupt.message
    assert statuses["hatecheck", "test_suite_cases"].status == "missing"


# --- downloads through a local mirror -----------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server serving <repo>/<commit>/<path> copies of the shared files."""
    root = tmp_path / "mirror"
    root.mkdir()
    requests: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield {
            "root": root,
            "url": f"http://127.0.0.1:{server.server_address[1]}/",
            "requests": requests,
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _publish(mirror, name, part=None, data: bytes | None = None) -> None:
    entry = dataset_info(name).file(part)
    dest = mirror["root"] / entry.repo / entry.commit / entry.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((SHARED / entry.filename).read_bytes() if data is None else data)


@needs_shared
def test_download_from_mirror_into_the_user_cache(env, monkeypatch, mirror):
    monkeypatch.delenv("MODKIT_OFFLINE")
    _publish(mirror, "simplesafetytests")  # its path has spaces: URL-encoded
    frame = load_dataset("simplesafetytests", mirror=mirror["url"])
    cached = env / "cache" / "datasets" / "simplesafetytests.csv"
    assert cached.read_bytes() == (SHARED / "simplesafetytests.csv").read_bytes()
    assert len(frame) == 100
    assert mirror["requests"] == [
        "/bertiev/SimpleSafetyTests/d7aee9a9422a5a5488f478fd79c2479c891c0f3b/"
        "SimpleSafetyTests%20-%20test%20cases.csv"
    ]
    load_dataset("simplesafetytests", mirror=mirror["url"])
    assert len(mirror["requests"]) == 1  # the second load reads the cache
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temp files


@needs_shared
def test_download_mirror_from_environment_and_nested_name(env, monkeypatch, mirror):
    monkeypatch.setenv("MODKIT_OFFLINE", "0")
    monkeypatch.setenv("MODKIT_DATASET_MIRROR", mirror["url"].rstrip("/"))
    _publish(mirror, "dixon-madlibber", "words")
    path = dataset_path("dixon-madlibber", "words")
    assert path == env / "cache" / "datasets" / "dixon-madlibber" / "words.csv"
    assert _sha(path) == dataset_info("dixon-madlibber").file("words").sha256


@needs_shared
def test_download_with_wrong_bytes_saves_nothing(env, monkeypatch, mirror):
    monkeypatch.delenv("MODKIT_OFFLINE")
    bad = b"id,harm_area,counter,category,prompts_final\n"
    _publish(mirror, "simplesafetytests", data=bad)
    with pytest.raises(DatasetError) as exc:
        dataset_path("simplesafetytests", mirror=mirror["url"])
    assert hashlib.sha256(bad).hexdigest() in str(exc.value)
    assert dataset_info("simplesafetytests").files[0].sha256 in str(exc.value)
    folder = env / "cache" / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_http_error_names_the_url(env, monkeypatch, mirror):
    monkeypatch.delenv("MODKIT_OFFLINE")
    with pytest.raises(DatasetError) as exc:
        dataset_path("hatecheck", "template_placeholders", mirror=mirror["url"], download=True)
    assert "HTTP 404" in str(exc.value)
    assert mirror["url"] + "paul-rottger/hatecheck-data/" in str(exc.value)


def test_offline_environment_blocks_the_download(env, mirror):
    with pytest.raises(DatasetError, match="MODKIT_OFFLINE"):
        dataset_path("simplesafetytests", mirror=mirror["url"])
    assert mirror["requests"] == []


# --- parsers on hand-made files -----------------------------------------------------------


def test_jsonl_parse_errors_name_file_and_line(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text('{"prompt": "a", "S": 1}\n\n{"prompt": "b", "S": 0\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"custom\.jsonl:3:\d+: invalid JSON"):
        read_dataset_file(path, "openai-moderation-1680")
    path.write_text('{"prompt": "a", "S": 1}\n{"prompt": "b", "H": 2}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"custom\.jsonl:2: label 'H' must be 0 or 1"):
        read_dataset_file(path, "openai-moderation-1680")
    path.write_text('{"text": "a"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"custom\.jsonl:1: field 'prompt'"):
        read_dataset_file(path, "openai-moderation-1680")
    gz = tmp_path / "broken.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"prompt": "a"}\n' * 50)[:-20])
    with pytest.raises(DatasetError, match=r"broken\.jsonl\.gz"):
        read_dataset_file(gz, "openai-moderation-1680")


def test_csv_missing_columns_and_bad_values(tmp_path):
    path = tmp_path / "sst.csv"
    path.write_text("id,harm_area,category,prompts_final\nx,y,z,w\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"sst\.csv: missing column\(s\) counter"):
        read_dataset_file(path, "simplesafetytests")
    with pytest.raises(DatasetError, match="file not found"):
        read_dataset_file(tmp_path / "nope.csv", "simplesafetytests")
    path.write_bytes(b"template,toxicity,phrase\nx,toxic,\xff\n")
    with pytest.raises(DatasetError, match=r"sst\.csv: not UTF-8"):
        read_dataset_file(path, "dixon-madlibber")


_HATECHECK_HEADER = [
    "functionality",
    "case_id",
    "test_case",
    "label_gold",
    "target_ident",
    "direction",
    "case_templ",
    "templ_id",
]
_texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r") | st.just("\n"),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cases=st.lists(st.tuples(_texts, st.booleans()), min_size=1, max_size=12),
    bad_at=st.integers(min_value=0, max_value=11),
)
def test_hatecheck_parser_round_trip_and_error_line(tmp_path, cases, bad_at):
    path = tmp_path / "cases.csv"

    def write(rows):
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["", *_HATECHECK_HEADER])
            for i, (text, gold) in enumerate(rows):
                writer.writerow([i, "f", i + 1, text, gold, "women", "general", "t", 7])

    rows = [(text, "hateful" if hateful else "non-hateful") for text, hateful in cases]
    write(rows)
    frame = read_dataset_file(path, "hatecheck")
    assert frame["text"].tolist() == [t for t, _ in rows]
    assert frame["label"].tolist() == [int(h) for _, h in cases]
    assert "Unnamed: 0" not in frame.columns

    bad_at %= len(rows)
    rows[bad_at] = (rows[bad_at][0], "maybe")
    write(rows)
    # a record starts on line 2 + records before it + newlines inside them
    expected_line = 2 + bad_at + sum(text.count("\n") for text, _ in rows[:bad_at])
    with pytest.raises(DatasetError, match=rf"cases\.csv, line {expected_line}: label_gold"):
        read_dataset_file(path, "hatecheck")


_label = st.sampled_from([None, 0, 1])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.tuples(st.text(max_size=40), st.lists(_label, min_size=8, max_size=8)), max_size=15
    ),
    compress=st.booleans(),
)
def test_openai_parser_round_trip(tmp_path, records, compress):
    codes = ["S", "H", "V", "HR", "SH", "S3", "H2", "V2"]
    lines = []
    for prompt, labels in records:
        record = {"prompt": prompt}
        record.update({c: v for c, v in zip(codes, labels, strict=True) if v is not None})
        lines.append(json.dumps(record))
    payload = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    path = tmp_path / "custom.jsonl"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    frame = read_dataset_file(path, "openai-moderation-1680")
    assert frame["text"].tolist() == [p for p, _ in records]
    expected = pd.DataFrame(
        [[np.nan if v is None else float(v) for v in labels] for _, labels in records],
        columns=[
            "sexual",
            "hate",
            "violence",
            "harassment",
            "self-harm",
            "sexual/minors",
            "hate/threatening",
            "violence/graphic",
        ],
        dtype=np.float64,
    )
    pd.testing.assert_frame_equal(frame.drop(columns="text"), expected)


# --- settings -----------------------------------------------------------------------------


def test_user_cache_location(monkeypatch, tmp_path):
    import platformdirs

    from modkit.datasets import user_data_dir

    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path))
    assert user_data_dir() == tmp_path / "datasets"
    monkeypatch.delenv("MODKIT_CACHE_DIR")
    assert user_data_dir() == Path(platformdirs.user_cache_dir("modkit")) / "datasets"


@pytest.mark.parametrize(
    ("value", "download", "allowed"),
    [
        (None, None, True),
        ("1", None, False),
        ("true", None, False),
        ("0", None, True),
        ("", None, True),
        ("1", True, True),
        (None, False, False),
    ],
)
def test_downloads_allowed(monkeypatch, value, download, allowed):
    from modkit.datasets import downloads_allowed

    if value is None:
        monkeypatch.delenv("MODKIT_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("MODKIT_OFFLINE", value)
    assert downloads_allowed(download) is allowed


def test_mirror_must_be_http(env, monkeypatch):
    monkeypatch.delenv("MODKIT_OFFLINE")
    with pytest.raises(DatasetError, match="http"):
        dataset_path("simplesafetytests", mirror="file:///etc/")
