"""ReviewQueue driven without a browser: keys, buttons, the store, resuming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modkit import InputError

pytest.importorskip("ipywidgets")

import ipywidgets as w

from modkit.review import ReviewStore
from modkit.widgets import ReviewQueue


def make_sample(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"item-{i}" for i in range(n)],
            "text": [f"<b>text</b> {i}" for i in range(n)],
            "group": ["women", "men"] * (n // 2),
            "violence": np.linspace(0.1, 0.9, n),
            "hate": np.linspace(0.9, 0.1, n),
            "decision/violence": ["allow", "allow", "block", "block"][:n],
            "decision/hate": ["block", "review", "allow", "allow"][:n],
        }
    )


def _toggles(queue: ReviewQueue) -> list[w.ToggleButtons]:
    out = []

    def walk(widget):
        if isinstance(widget, w.ToggleButtons):
            out.append(widget)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(queue.widget)
    return out


def test_keys_record_each_verdict_with_reviewer_rubric_and_time(tmp_path):
    store = ReviewStore(tmp_path / "r.sqlite").add_sample(make_sample())
    queue = ReviewQueue(
        store, "ana", rubric="Violence: threats.\n\nHate: slurs.", rubric_version="v3"
    )
    assert queue.item_id == "item-0" and queue.category == "violence"
    queue.press("y")  # violence = yes, the highlight moves to hate
    assert queue.item_id == "item-0" and queue.category == "hate"
    assert len(store.verdicts()) == 1  # stored at once, before the item is finished
    queue.press("u")  # hate = unsure: the item is finished, the next one comes
    assert queue.item_id == "item-1"
    queue.press("a")  # no to every category of item-1
    v = store.verdicts()
    assert v[["id", "category", "label"]].fillna(-1).values.tolist() == [
        ["item-0", "violence", 1.0],
        ["item-0", "hate", -1],
        ["item-1", "violence", 0.0],
        ["item-1", "hate", 0.0],
    ]
    assert set(v["reviewer"]) == {"ana"} and set(v["rubric_version"]) == {"v3"}
    assert set(v["source"]) == {"widget"}
    assert v["recorded_at"].str.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert queue.n_done == 2 and queue.item_id == "item-2"
    html = queue.widget.children[2].children[0].children[0].value
    assert "&lt;b&gt;text&lt;/b&gt; 2" in html  # the text is escaped, not rendered
    assert "women" in html  # slot values are shown
    assert queue.last_latency_ms < 1000


def test_a_new_queue_resumes_at_the_first_unfinished_item(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ReviewStore(path).add_sample(make_sample())
    ReviewQueue(store, "ana").press("n").press("n").press("y")  # item-0 done, item-1 half
    store.close()
    store = ReviewStore(path)  # a restarted kernel
    queue = ReviewQueue(store, "ana")
    assert queue.item_id == "item-1" and queue.category == "hate"  # violence already given
    assert ReviewQueue(store, "bo").item_id == "item-0"  # another reviewer starts afresh


def test_buttons_navigation_and_changing_a_verdict(tmp_path):
    store = ReviewStore(":memory:").add_sample(make_sample())
    queue = ReviewQueue(store, "ana")
    violence, hate = _toggles(queue)
    hate.value = "yes"  # a click on a category that is not highlighted
    assert store.verdicts()["category"].tolist() == ["hate"]
    violence.value = "no"
    assert queue.item_id == "item-1"
    queue.press("b")  # back to item-0, and change the mind
    assert queue.item_id == "item-0" and violence.value == "no"
    queue.press("y")
    labelled = store.labelled()
    assert labelled.loc[0, "label_violence"] == 1.0 and labelled.loc[0, "label_hate"] == 1.0
    assert len(store.verdicts(latest=False)) == 3  # the first 'no' is kept in the log
    queue.press("s").press("s").press("s")
    assert queue.item_id is None  # past the end: the done screen
    assert "Done" in queue.widget.children[0].value
    with pytest.raises(InputError, match="unknown key 'x'"):
        queue.press("x")


def test_assigned_share_and_errors():
    store = ReviewStore(":memory:").add_sample(make_sample())
    store.assign(["ana", "bo"], overlap=2, seed=0)
    queue = ReviewQueue(store, "ana", categories=["hate"])
    assert len(store.assigned("ana")) == 3  # 2 shared + half of the 2 others
    assert queue.item_id == store.assigned("ana")[0]
    queue.press("y")
    assert store.verdicts()["category"].tolist() == ["hate"]
    with pytest.raises(InputError, match="reviewer must be"):
        ReviewQueue(store, " ")
    with pytest.raises(InputError, match="not reviewed"):
        ReviewQueue(store, "ana", categories=["sexual"])
    with pytest.raises(InputError, match="holds no sample"):
        ReviewQueue(ReviewStore(":memory:"), "ana")


def test_keys_arriving_on_another_thread_are_stored(tmp_path):
    # ipykernel delivers widget messages (the key handler's) on a thread other than the
    # one that ran the cell creating the store: found in JupyterLab, every key after the
    # first was lost to sqlite3's same-thread check.
    import threading

    store = ReviewStore(tmp_path / "r.sqlite").add_sample(make_sample())
    queue = ReviewQueue(store, "ana")
    errors = []

    def typist(keys):
        try:
            for key in keys:
                queue.press(key)
        except Exception as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    worker = threading.Thread(target=typist, args=("ynyn",))
    worker.start()
    worker.join()
    assert errors == []
    assert len(store.verdicts()) == 4 and queue.item_id == "item-2"
