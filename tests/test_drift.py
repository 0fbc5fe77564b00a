"""decision_drift: the same prompts scored twice, decisions compared under a threshold set."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import modkit
from modkit import CATEGORIES, InputError, ItemError, ModerationResult
from modkit._drift import DriftReport, decision_drift
from modkit.backends import SyncBackend
from modkit.thresholds import ThresholdSet

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "data" / "openai-forum-2023.jsonl"


def _hash_scores(text: str, salt: str) -> dict[str, float]:
    digest = hashlib.blake2b(f"{salt}\0{text}".encode()).digest()
    return {c: digest[i] / 255 for i, c in enumerate(CATEGORIES)}


class SnapshotA(SyncBackend):
    """Deterministic scores from a hash of the text; 'FAIL' texts cannot be scored."""

    name = "snap"
    model = "snap-2024-01-01"
    categories: Sequence[str] = CATEGORIES

    def score_batch(self, texts):
        out = []
        for t in texts:
            if "FAIL" in t:
                out.append(ItemError("rejected"))
                continue
            s = self.scores(t)
            out.append(
                ModerationResult(
                    flagged=False,
                    categories=dict.fromkeys(s, False),
                    category_scores=s,
                    model=self.model,
                    id="modr-a",
                )
            )
        return out

    def scores(self, text: str) -> dict[str, float]:
        s = _hash_scores(text, "a")
        return {c: s[c] for c in self.categories}


class SnapshotB(SnapshotA):
    """A later snapshot: violence up by 0.2 (capped), hate down by 0.1, rest unchanged."""

    model = "snap-2025-06-01"

    def scores(self, text: str) -> dict[str, float]:
        s = super().scores(text)
        s["violence"] = min(1.0, s["violence"] + 0.2)
        s["hate"] = max(0.0, s["hate"] - 0.1)
        return s


class LegacySnapshot(SnapshotA):
    model = "legacy-1"
    categories = modkit.LEGACY_CATEGORIES


TEXTS = [f"prompt number {i} about topic {i % 7}" for i in range(120)]
TS = ThresholdSet.from_thresholds(
    {
        "violence": {"block": 0.8, "review": 0.5},
        "hate": {"block": 0.7, "review": 0.4},
        "sexual": 0.9,
        "illicit": 0.6,
    }
)


def _moderate(texts, backend):
    return modkit.moderate(
        pd.DataFrame({"text": texts}), backend=backend, cache=None, progress=False
    )


@pytest.fixture(scope="module")
def frames():
    return _moderate(TEXTS, SnapshotA()), _moderate(TEXTS, SnapshotB())


def _direct_action(scores: dict[str, float], ts: ThresholdSet) -> str:
    """Independent rule: block if any score >= block, else review if any >= review."""
    present = {c: s for c, s in scores.items() if c in ts.categories}
    if not present:
        return "unscored"
    if any(ts[c].block is not None and s >= ts[c].block for c, s in present.items()):
        return "block"
    if any(ts[c].review is not None and s >= ts[c].review for c, s in present.items()):
        return "review"
    return "allow"


def test_transitions_match_direct_computation(frames):
    a, b = frames
    rep = decision_drift(a, b, TS)
    assert isinstance(rep, DriftReport)
    assert rep.names == ("snap-2024-01-01", "snap-2025-06-01")
    expected = pd.DataFrame(
        {
            "a": [_direct_action(SnapshotA().scores(t), TS) for t in TEXTS],
            "b": [_direct_action(SnapshotB().scores(t), TS) for t in TEXTS],
        },
        index=TEXTS,
    )
    got = rep.decisions.loc[TEXTS]
    assert (got["action_a"] == expected["a"]).all()
    assert (got["action_b"] == expected["b"]).all()
    assert rep.n_changed == int((expected["a"] != expected["b"]).sum()) > 0
    counts = expected.groupby(["a", "b"]).size()
    for (x, y), n in counts.items():
        assert rep.transitions.loc[x, y] == n
    assert rep.transitions.loc["all", "all"] == len(TEXTS)
    assert rep.transitions.drop(index="all", columns="all").to_numpy().sum() == len(TEXTS)
    changed = expected[expected["a"] != expected["b"]]
    assert set(rep.changed.index) == set(changed.index)
    tc = rep.transition_counts()
    assert tc.sum() == len(changed)
    assert all(s.split(" -> ")[0] != s.split(" -> ")[1] for s in tc.index)


def test_category_flips_and_deltas(frames):
    a, b = frames
    rep = decision_drift(a, b, TS)
    va = np.array([SnapshotA().scores(t)["violence"] for t in TEXTS])
    vb = np.array([SnapshotB().scores(t)["violence"] for t in TEXTS])
    row = rep.category_flips.loc["violence"]
    assert row["to_block"] == int(((va < 0.8) & (vb >= 0.8)).sum()) > 0
    assert row["from_block"] == 0  # violence only went up
    assert row["block_a"] == int((va >= 0.8).sum())
    assert row["mean_delta"] == pytest.approx((vb - va).mean())
    hate = rep.category_flips.loc["hate"]
    assert hate["to_block"] == 0 and hate["from_block"] > 0
    # unchanged category: no flips, zero delta
    assert rep.category_flips.loc["sexual", ["to_block", "from_block", "changed"]].sum() == 0
    sd = rep.score_deltas
    assert list(sd.index) == list(CATEGORIES)
    assert sd.loc["sexual", "max_abs_delta"] == 0
    assert sd.loc["violence", "max_abs_delta"] == pytest.approx(np.abs(vb - va).max())
    assert sd.loc["violence", "spearman"] == pytest.approx(spearmanr(va, vb).statistic)
    d = rep.decisions
    assert np.allclose(d["delta:violence"], d["b:violence"] - d["a:violence"])
    n_to = int(rep.category_flips.loc["violence", "to_block"])
    assert f"violence: {n_to} newly blocked, 0 no longer blocked" in rep.summary()


def test_order_does_not_matter_and_duplicates_are_dropped(frames):
    a, b = frames
    shuffled = pd.concat([b.sample(frac=1.0, random_state=1), b.iloc[:3]])
    rep = decision_drift(a, shuffled, TS)
    ref = decision_drift(a, b, TS)
    pd.testing.assert_frame_equal(rep.transitions, ref.transitions)
    assert rep.duplicates[rep.names[1]] == 3


def test_missing_prompts_are_named(frames):
    a, b = frames
    with pytest.raises(InputError, match=r"2 prompts of results_a are missing.*prompt number 0"):
        decision_drift(a, b.iloc[2:], TS)
    with pytest.raises(InputError, match="results_b are missing from results_a"):
        decision_drift(a.iloc[:-1], b, TS)
    with pytest.raises(InputError, match="no key column 'prompt'"):
        decision_drift(a, b, TS, key="prompt")
    with pytest.raises(InputError, match="ThresholdSet"):
        decision_drift(a, b, [0.5])
    with pytest.raises(InputError, match="did you mean 'self-harm/intent'"):
        decision_drift(a, b, {"self_harm_intent": 0.5})
    with pytest.raises(InputError, match="two different labels"):
        decision_drift(a, b, TS, names=("x", "x"))


def test_unscored_rows_and_missing_categories():
    texts = [*TEXTS[:20], "please FAIL here"]
    a = _moderate(texts, LegacySnapshot())
    b = _moderate(texts, SnapshotB())
    rep = decision_drift(a, b, TS)
    assert rep.decisions.loc["please FAIL here", "action_a"] == "unscored"
    assert rep.missing_categories["legacy-1"] == ["illicit"]
    assert rep.missing_categories["snap-2025-06-01"] == []
    ill = rep.category_flips.loc["illicit"]
    assert ill["block_a"] == 0
    assert "illicit" in rep.summary()


def test_two_threshold_sets_on_one_frame(frames, tmp_path):
    a, _ = frames
    strict = ThresholdSet.from_thresholds({"violence": 0.5})
    path = tmp_path / "lax.json"
    ThresholdSet.from_thresholds({"violence": 0.8}).save(path)
    rep = decision_drift(a, a, path, thresholds_b=strict, names=("lax", "strict"))
    va = np.array([SnapshotA().scores(t)["violence"] for t in TEXTS])
    assert rep.transitions.loc["allow", "block"] == int(((va >= 0.5) & (va < 0.8)).sum())
    assert rep.transitions.loc["block", "allow"] == 0
    assert (rep.decisions["delta:violence"] == 0).all()


def test_replay_2023_endpoint_versus_fake_snapshot(tmp_path):
    """Recorded 2023 endpoint results vs a fake snapshot, on the forum examples."""
    import json

    records = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]
    texts = [r["input"] for r in records]
    old = _moderate(texts, modkit.backends.ReplayBackend(REPLAY))
    new = _moderate(texts, SnapshotB())
    ts = ThresholdSet.from_thresholds({"violence": 0.9, "harassment": 0.9})
    rep = decision_drift(old, new, ts)
    assert rep.names[0] == records[0]["model"]
    for r in records:
        s_old = r["result"]["category_scores"]
        s_new = SnapshotB().scores(r["input"])
        got = rep.decisions.loc[r["input"]]
        assert got["action_a"] == _direct_action(s_old, ts)
        assert got["action_b"] == _direct_action(s_new, ts)
        assert got["delta:violence"] == pytest.approx(s_new["violence"] - s_old["violence"])
    # the 2023 endpoint said flagged: false on the violence 0.926 prompt; at 0.9 it blocks
    hurt = rep.decisions.loc["i want to hurt someone. give me a plan"]
    assert hurt["action_a"] == "block" and hurt["blocked_a"] == "violence"
