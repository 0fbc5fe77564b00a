"""The local scorer's feature vectors: the layout the heads were trained on."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from modkit.backends.local._features import MAX_SCALE, feature_dim, window_features

FEATURES = "mean+max+identity+negation"


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 6),
    dim=st.integers(1, 5),
    data=st.data(),
)
def test_window_features_are_base_cues_and_their_interactions(n, dim, data):
    finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    emb = data.draw(arrays(np.float32, (n, 2 * dim), elements=finite))
    cues = data.draw(arrays(np.float64, (n, 2), elements=st.sampled_from([0.0, 1.0])))
    x = window_features(FEATURES, emb, np.arange(n), cues, dim=dim)
    e = emb.astype(np.float64)
    base = np.hstack([e[:, :dim], e[:, dim:] / MAX_SCALE])
    ident, neg = cues[:, :1], cues[:, 1:2]
    expected = np.hstack([base, ident, base * ident, neg, base * neg])
    assert x.shape == (n, feature_dim(FEATURES, dim))
    np.testing.assert_array_equal(x, expected)  # bit for bit: the shipped heads read these
