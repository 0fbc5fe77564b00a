"""Image slots in templates: ``images:`` in a template file or ``expand(images=...)`` pair
every prompt with images and build the multimodal ``input`` that ``moderate`` scores."""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit.templates import TemplateError
from modkit.testing import FaultServer, fake_multimodal_result

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _file(tmp_path, body: str):
    path = tmp_path / "templates.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_template_file_image_slots_scored_through_moderate(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (photos / name).write_bytes(PNG)
    path = _file(
        tmp_path,
        "templates:\n"
        "  - id: ask\n"
        "    text: 'Is this {animal: cat|dog} dangerous?'\n"
        "    labels: {label: 0}\n"
        "images:\n"
        "  photo: photos\n"
        "  sticker: [https://example.org/s.png]\n",
    )
    assert modkit.count_prompts(path) == 2 * 2 * 1
    frame = modkit.expand(path)
    assert frame.attrs["images"] == ["photo", "sticker"]
    assert frame["animal"].tolist() == ["cat", "cat", "dog", "dog"]
    assert frame["photo"].tolist() == ["a.jpg", "b.png"] * 2
    assert set(frame["sticker"]) == {"https://example.org/s.png"}
    assert frame["label"].tolist() == [0] * 4
    first = frame["input"].iloc[0]
    assert first[0] == {"type": "text", "text": "Is this cat dangerous?"}
    assert first[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(first[1]["image_url"]["url"].split(",", 1)[1]) == PNG
    assert first[2] == {"type": "image_url", "image_url": {"url": "https://example.org/s.png"}}
    with FaultServer() as srv:
        backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-x")
        df = modkit.moderate(
            frame, backend=backend, cache=tmp_path / "c", text_column="input", progress=False
        )
        backend.close()
    assert (df["error"] == "").all()
    assert df["photo"].tolist() == frame["photo"].tolist()
    for parts, raw in zip(frame["input"], df["result_json"], strict=True):
        result = json.loads(raw)
        assert result["category_scores"] == fake_multimodal_result(parts)["category_scores"]
        assert result["category_applied_input_types"]["violence"] == ["text", "image"]
    assert df["applied/violence"].tolist() == ["text,image"] * 4


def test_image_slot_errors_name_file_line_and_field(tmp_path):
    path = _file(tmp_path, "templates: [hello]\nimages:\n  photo: missing\n")
    with pytest.raises(TemplateError, match=r"images\.photo: .*missing: not a folder") as info:
        modkit.expand(path)
    assert (info.value.file, info.value.line) == (str(path), 3)
    path = _file(tmp_path, "templates: [hello]\nimages:\n  photo: [https://x/a.png, 3]\n")
    with pytest.raises(TemplateError, match=r"images\.photo: image slot 'photo'\[1\]") as info:
        modkit.load_templates(path)
    assert info.value.line == 3
    path = _file(tmp_path, "templates: [hello]\nimages: [a]\n")
    with pytest.raises(TemplateError, match="'images' must map a slot name") as info:
        modkit.load_templates(path)
    assert info.value.line == 2
    path = _file(tmp_path, "templates: [hello]\nimages:\n  photo: [nope.png]\n")
    with pytest.raises(TemplateError, match=r"nope\.png: cannot read the image"):
        modkit.load_templates(path)
    url = ["https://example.org/a.png"]
    with pytest.raises(TemplateError, match="image slot 'animal' is also a column"):
        modkit.expand("a {animal: cat|dog}", images={"animal": url})
    with pytest.raises(TemplateError, match="'input' is a slot column already"):
        modkit.expand("a {input: cat|dog}", images={"photo": url})
    with pytest.raises(TemplateError, match="image slot 'photo' is defined twice"):
        file = _file(tmp_path, "templates: [hi]\nimages: {photo: [https://e/b.gif]}\n")
        modkit.expand(file, images={"photo": url})
    with pytest.raises(TemplateError, match="slot name 'a b' must be a word"):
        modkit.expand("hi", images={"a b": url})
    with pytest.raises(TemplateError, match="images: image slot 'p': a folder or a non-empty"):
        modkit.expand("hi", images={"p": []})
    with pytest.raises(TemplateError, match=r"would make 4 prompts .* above the limit of 3"):
        modkit.expand("a {x|y}", images={"p": url * 2}, limit=3)


_urls = st.lists(
    st.integers(0, 50).map(lambda i: f"https://example.org/{i}.png"), min_size=1, max_size=3
)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=4, unique=True),
    slots=st.lists(_urls, min_size=1, max_size=3),
)
def test_every_prompt_with_every_combination_of_images(values, slots):
    images = {f"img{k}": urls for k, urls in enumerate(slots)}
    frame = modkit.expand("say {word: " + "|".join(values) + "}", images=images)
    expected = [
        (v, combo) for v in values for combo in itertools.product(*images.values())
    ]  # text prompts slowest, then the image slots in order, the last fastest
    assert len(frame) == len(expected)
    for (_, row), (value, combo) in zip(frame.iterrows(), expected, strict=True):
        assert row["word"] == value and row["text"] == f"say {value}"
        assert [row[name] for name in images] == list(combo)
        assert row["input"] == [
            {"type": "text", "text": f"say {value}"},
            *({"type": "image_url", "image_url": {"url": u}} for u in combo),
        ]


def test_cli_expand_refuses_image_slots_in_one_line(tmp_path, capsys):
    from modkit.cli import main

    path = _file(tmp_path, "templates: [hi]\nimages: {photo: [https://example.org/a.png]}\n")
    out = tmp_path / "out.csv"
    assert main(["expand", str(path), "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert (
        err.endswith(
            "image slots (photo) are not written to a table yet; expand them with "
            "modkit.expand in Python"
        )
        and "\n" not in err
    )
