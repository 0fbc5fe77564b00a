"""Multimodal inputs: image parts from files, folders and URLs, their validation, and the
FaultServer answering them (synchronously and in batches) to the official SDK."""

from __future__ import annotations

import base64
import json
import os

import openai
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import InputError
from modkit._images import check_parts, input_types
from modkit.images import IMAGE_CATEGORIES, image_part, images_in_folder, multimodal_input
from modkit.server import ServeProcess, ServerThread
from modkit.testing import FaultServer, fake_multimodal_result

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_image_part_reads_files_as_data_urls(tmp_path):
    (tmp_path / "a.PNG").write_bytes(PNG)
    part = image_part(tmp_path / "a.PNG")
    url = part["image_url"]["url"]
    assert part["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG
    web = "https://example.org/cat.jpg"
    assert image_part(web) == {"type": "image_url", "image_url": {"url": web}}


def test_image_part_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.png: cannot read the image"):
        image_part(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"notes\.txt: not an image the endpoint accepts"):
        image_part(tmp_path / "notes.txt")
    (tmp_path / "big.gif").write_bytes(b"x" * 11)
    with pytest.raises(InputError, match=r"big\.gif: 11 bytes, more than the 10 allowed"):
        image_part(tmp_path / "big.gif", max_bytes=10)
    with pytest.raises(InputError, match="base64 payload is not valid"):
        image_part("data:image/png;base64,@@@")


def test_folder_of_images_in_name_order(tmp_path):
    for name in ("b.jpg", "a.webp", "c.txt"):
        (tmp_path / name).write_bytes(PNG)
    urls = images_in_folder(tmp_path)
    assert [u.split(";")[0] for u in urls] == ["data:image/webp", "data:image/jpeg"]
    with pytest.raises(InputError, match="no image files"):
        images_in_folder(_empty(tmp_path))
    with pytest.raises(InputError, match="not a folder of images"):
        images_in_folder(tmp_path / "absent")
    parts = multimodal_input("a caption", urls[:1])
    assert [p["type"] for p in parts] == ["text", "image_url"]
    with pytest.raises(InputError, match="needs a text or at least one image"):
        multimodal_input()


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


_text = st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=20))
_image = st.builds(
    lambda b: {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(b).decode()},
    },
    st.binary(max_size=20),
)


@given(st.lists(st.one_of(_text, _image), min_size=1, max_size=5), st.data())
def test_check_parts_accepts_valid_and_names_the_broken_field(parts, data):
    assert check_parts(parts) == parts
    kinds = {"text" if p["type"] == "text" else "image" for p in parts}
    assert input_types(parts) == kinds
    i = data.draw(st.integers(0, len(parts) - 1))
    broken = json.loads(json.dumps(parts))
    field = data.draw(st.sampled_from(["type", "payload"]))
    if field == "type":
        broken[i]["type"] = "audio"
        match = rf"input\[{i}\]\.type: must be 'text' or 'image_url'"
    elif broken[i]["type"] == "text":
        broken[i]["text"] = 3
        match = rf"input\[{i}\]\.text: must be a string"
    else:
        broken[i]["image_url"]["url"] = "ftp://x/y.png"
        match = rf"input\[{i}\]\.image_url\.url: must be an http\(s\) or data: URL"
    with pytest.raises(InputError, match=match):
        check_parts(broken)


def _applied(result) -> dict:
    return result.model_dump(by_alias=True)["category_applied_input_types"]


def test_fault_server_scores_multimodal_inputs_for_the_official_sdk(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    parts = multimodal_input("look at this", [tmp_path / "x.png"])
    image_only = [image_part(tmp_path / "x.png")]
    with FaultServer() as srv, openai.OpenAI(base_url=srv.url, api_key="sk-x") as client:
        both = client.moderations.create(model="omni-moderation-latest", input=parts)
        only = client.moderations.create(model="omni-moderation-latest", input=image_only)
        text = client.moderations.create(model="omni-moderation-latest", input=["plain"])
        with pytest.raises(openai.BadRequestError, match=r"input\[1\]\.image_url\.url"):
            client.moderations.create(
                model="omni-moderation-latest",
                input=[parts[0], {"type": "image_url", "image_url": {"url": "file:///x.png"}}],
            )
        with pytest.raises(openai.BadRequestError, match="does not accept image inputs"):
            client.moderations.create(model="text-moderation-latest", input=image_only)
        recorded = srv.moderation_requests()
    assert len(both.results) == len(only.results) == 1  # one multimodal input, one result
    applied = _applied(both.results[0])
    assert applied == fake_multimodal_result(parts)["category_applied_input_types"]
    for cat, kinds in applied.items():
        assert kinds == (["text", "image"] if cat in IMAGE_CATEGORIES else ["text"])
    image_applied = _applied(only.results[0])
    scores = only.results[0].model_dump(by_alias=True)["category_scores"]
    for cat in modkit.CATEGORIES:
        if cat in IMAGE_CATEGORIES:
            assert image_applied[cat] == ["image"]
        else:
            assert image_applied[cat] == [] and scores[cat] == 0.0
    assert _applied(text.results[0])["violence"] == ["text"]
    assert [r.outcome for r in recorded] == ["ok", "ok", "ok", "bad_request", "bad_request"]


def test_batch_api_fake_answers_multimodal_lines(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    parts = multimodal_input("caption", [tmp_path / "x.png"])
    line = {
        "custom_id": "mm-1",
        "method": "POST",
        "url": "/v1/moderations",
        "body": {"model": "omni-moderation-latest", "input": parts},
    }
    with FaultServer() as srv, openai.OpenAI(base_url=srv.url, api_key="sk-x") as client:
        uploaded = client.files.create(
            file=("in.jsonl", json.dumps(line).encode()), purpose="batch"
        )
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/moderations", completion_window="24h"
        )
        while batch.status not in ("completed", "failed"):
            batch = client.batches.retrieve(batch.id)
        out = json.loads(client.files.content(batch.output_file_id).text)
    assert batch.status == "completed"
    result = out["response"]["body"]["results"][0]
    assert result == fake_multimodal_result(parts)


def test_template_with_an_image_slot_through_batches(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (folder / name).write_bytes(PNG)
    prompts = modkit.expand("a {animal} in this picture", {"animal": ["cat", "dog", "fox"]})
    frame = modkit.images.with_images(prompts, folder)
    assert len(frame) == 3 * 2
    assert frame["image"].tolist() == ["a.jpg", "b.png"] * 3
    assert frame["animal"].tolist() == ["cat", "cat", "dog", "dog", "fox", "fox"]
    first = frame["input"].iloc[0]
    assert first[0] == {"type": "text", "text": "a cat in this picture"}
    assert first[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    with FaultServer() as srv:
        backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-x")
        via = modkit.BatchAPI(poll_interval=0.01)
        df = modkit.moderate(
            frame, backend=backend, cache=tmp_path / "c", text_column="input", via=via
        )
    assert (df["error"] == "").all()
    assert df["image"].tolist() == frame["image"].tolist()
    for parts, raw in zip(frame["input"], df["result_json"], strict=True):
        result = json.loads(raw)
        assert result["category_scores"] == fake_multimodal_result(parts)["category_scores"]
        assert result["category_applied_input_types"]["violence"] == ["text", "image"]


def test_with_images_zip_urls_and_errors(tmp_path):
    frame = pd.DataFrame({"text": ["one", "two"], "id": [1, 2]})
    urls = ["https://example.org/1.png", "https://example.org/2.png"]
    zipped = modkit.images.with_images(frame, urls, how="zip")
    assert zipped["image"].tolist() == urls and zipped["id"].tolist() == [1, 2]
    assert [p[1]["image_url"]["url"] for p in zipped["input"]] == urls
    with pytest.raises(InputError, match="2 rows, 1 images"):
        modkit.images.with_images(frame, urls[:1], how="zip")
    with pytest.raises(InputError, match="no 'prompt' column"):
        modkit.images.with_images(frame, urls, text_column="prompt")
    with pytest.raises(InputError, match="column 'id' exists already"):
        modkit.images.with_images(frame, urls, image_column="id")
    with pytest.raises(InputError, match="no image files"):
        modkit.images.with_images(frame, _empty(tmp_path))
    with pytest.raises(InputError, match=r"nope\.png: cannot read the image"):
        modkit.images.with_images(frame, [tmp_path / "nope.png"])


def test_applied_input_types_as_columns(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    rows = [multimodal_input("caption", [tmp_path / "x.png"]), [image_part(tmp_path / "x.png")]]
    rows.append([{"type": "text", "text": "only"}, {"type": "image_url", "image_url": {}}])
    with FaultServer() as srv:
        df = modkit.moderate(
            rows,
            backend=modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-x"),
            cache=tmp_path / "c",
            via=modkit.BatchAPI(poll_interval=0.01),
        )
    out = modkit.images.applied_input_types(df)
    assert out["applied/violence"].tolist() == ["text,image", "image", None]
    assert out["applied/hate"].tolist() == ["text", "", None]
    assert [c for c in out.columns if c.startswith("applied/")] == [
        f"applied/{c}" for c in modkit.CATEGORIES
    ]
    with pytest.raises(InputError, match="no 'result_json' column"):
        modkit.images.applied_input_types(df.drop(columns="result_json"))
    bad = df.assign(result_json=["[1]", "", ""])
    with pytest.raises(InputError, match="result_json of row 0 is not a JSON object"):
        modkit.images.applied_input_types(bad)


def test_request_path_scores_mixed_rows_over_http(tmp_path):
    """Texts and multimodal inputs in one run, one request per multimodal input, keys that
    include the image parts, ``applied/<key>`` columns, all against the FaultServer."""
    (tmp_path / "x.png").write_bytes(PNG)
    (tmp_path / "y.gif").write_bytes(PNG + b"\x00")  # another image, the same caption
    with_x = multimodal_input("caption", [tmp_path / "x.png"])
    with_y = multimodal_input("caption", [tmp_path / "y.gif"])
    image_only = [image_part(tmp_path / "x.png")]
    bad = [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": {"url": "ftp://x"}}]
    rows = ["plain one", with_x, "plain two", with_y, with_x, image_only, bad, "plain one"]
    cache = modkit.Cache(tmp_path / "c")
    with FaultServer() as srv:
        backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-x")
        df = modkit.moderate(rows, backend=backend, cache=cache, progress=False, result_json=False)
        first = srv.moderation_requests()
        again = modkit.moderate(rows, backend=backend, cache=cache, progress=False)
        second = srv.moderation_requests()[len(first) :]
        backend.close()
    cache.close()
    assert [r.outcome for r in first] == ["ok"] * 4
    # the FaultServer records a multimodal input as its parts' canonical JSON
    canonical = {
        json.dumps(p, sort_keys=True, separators=(",", ":")): p
        for p in (with_x, with_y, image_only)
    }
    texts = [r.inputs for r in first if r.inputs[0] not in canonical]
    assert texts == [["plain one", "plain two"]]  # the texts together, deduplicated
    sent_parts = [r.inputs for r in first if r.inputs[0] in canonical]
    assert len(sent_parts) == 3 and all(len(i) == 1 for i in sent_parts)  # one per request
    assert {i[0] for i in sent_parts} == set(canonical)  # with_x once, with_y, image_only
    # all cached, multimodal inputs too: only the one probe of which snapshot answers now
    assert [r.inputs for r in second] == [[modkit.backends.PROBE_TEXT]]
    assert "result_json" not in df.columns
    for i in (1, 3, 4, 5):
        expected = fake_multimodal_result(rows[i])
        assert df["violence"].iloc[i] == pytest.approx(expected["category_scores"]["violence"])
    assert df["violence"].iloc[1] != df["violence"].iloc[3]  # the image is in the key
    assert df["error"].iloc[6].startswith("row 6: input[1].image_url.url: must be an http(s)")
    assert (df["error"].drop(index=6) == "").all()
    assert df["applied/violence"].tolist() == [
        "text",
        "text,image",
        "text",
        "text,image",
        "text,image",
        "image",
        None,
        "text",
    ]
    assert df["applied/hate"].iloc[5] == ""
    pd.testing.assert_frame_equal(df, again.drop(columns="result_json"))


def test_local_backend_answers_image_parts_with_a_per_item_error(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    rows = [
        "a plain text",
        multimodal_input("caption", [tmp_path / "x.png"]),
        [{"type": "text", "text": "only text parts"}],
    ]
    df = modkit.moderate(rows, backend="local", cache=None, progress=False)
    assert df["error"].iloc[0] == "" and df["violence"].notna().iloc[0]
    assert df["error"].iloc[1] == (
        "input[1] is an image part: backend 'local' scores text only "
        "(use the openai backend, or a guard model that takes images: Llama Guard 4, "
        "ShieldGemma 2)"
    )
    assert df["error"].iloc[2].startswith("input is a list of parts: backend 'local' takes")
    assert df["violence"].iloc[1:].isna().all()


def test_template_with_an_image_slot_through_modkit_serve_openai(tmp_path):
    """A template file with an image slot (``images:``), expanded and sent by the official
    SDK to ``modkit serve --backend openai``, forwarded upstream (the FaultServer), answered
    and cached per multimodal input."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(PNG)
    (folder / "b.gif").write_bytes(PNG + b"\x01")
    template = tmp_path / "templates.yaml"
    template.write_text(
        "templates:\n"
        "  - id: ask\n"
        "    text: 'is this {animal: cat|dog} dangerous?'\n"
        "images:\n"
        "  photo: photos\n",
        encoding="utf-8",
    )
    frame = modkit.expand(template)
    assert frame["photo"].tolist() == ["a.png", "b.gif"] * 2
    with FaultServer(api_key="sk-upstream") as upstream:
        env = {**os.environ, "UPSTREAM_KEY": "sk-upstream"}
        args = ["--backend", "openai", "--base-url", upstream.url]
        args += ["--upstream-api-key-env", "UPSTREAM_KEY", "--cache", str(tmp_path / "c")]
        with (
            ServeProcess([*args, "--no-access-log"], env=env) as srv,
            openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
        ):
            answers = [
                client.moderations.create(model="omni-moderation-latest", input=parts)
                for parts in frame["input"]
            ]
            forwarded = len(upstream.moderation_requests())
            again = client.moderations.create(
                model="omni-moderation-latest", input=frame["input"].iloc[0]
            )
            mixed = client.moderations.create(model="omni-moderation-latest", input=["plain"])
            with pytest.raises(openai.BadRequestError) as info:
                client.moderations.create(
                    model="omni-moderation-latest",
                    input=[{"type": "image_url", "image_url": {"url": "file:///etc/x.png"}}],
                )
    assert forwarded == len(frame) == 4
    for parts, resp in zip(frame["input"], answers, strict=True):
        assert len(resp.results) == 1
        got = resp.results[0].model_dump(by_alias=True)
        want = fake_multimodal_result(parts)
        assert got["category_scores"] == pytest.approx(want["category_scores"])
        assert got["category_applied_input_types"] == want["category_applied_input_types"]
    assert again.results[0].model_dump() == answers[0].results[0].model_dump()  # cached
    assert mixed.results[0].model_dump(by_alias=True)["category_applied_input_types"][
        "violence"
    ] == ["text"]
    assert info.value.body["param"] == "input[0]"
    assert "input[0].image_url.url: must be an http(s) or data: URL" in info.value.body["message"]
    assert "sk-upstream" not in srv.stdout + srv.stderr


def test_serve_with_a_text_only_backend_refuses_image_parts(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    parts = multimodal_input("caption", [tmp_path / "x.png"])
    with (
        ServerThread(modkit.make_backend("local")) as srv,
        openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
    ):
        with pytest.raises(openai.BadRequestError) as info:
            client.moderations.create(input=parts)
        ok = client.moderations.create(input=[{"type": "text", "text": "caption"}])
    body = info.value.body
    assert (body["param"], body["code"]) == ("input[1]", "unsupported_input_type")
    assert "input[1] is an image part: backend 'local' scores text only" in body["message"]
    assert len(ok.results) == 1
