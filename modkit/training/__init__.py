"""Training of the embedded local scorer (``modkit train``), kept apart from its runtime.

The runtime (``modkit.backends.local``: encoder, heads, backend) reads ``heads.json`` and
``model.json`` and needs neither scikit-learn nor any data set. This wing holds what
builds those files and checks them:

* ``_train.py``: the recipe (tasks per head, contrast weights, folds, thresholds),
  :func:`train` and the honest out-of-fold scores :func:`cross_fitted_results`;
* ``_contrast.py``: modkit's contrast set (``data/contrast``), :func:`load_contrast`;
* ``_crossfit.py``: the on-disk cache of cross-fitted scores.

It sits in the same layer as ``modkit.backends`` (``tests/project/test_layout.py``): it imports
the runtime's encoder, features and heads, and ``LocalBackend.cross_fitted_scores``
imports it lazily.
"""

from ._contrast import CONTRAST_DIR, contrast_sha256, is_heldout, load_contrast
from ._train import (
    CONTRAST_WEIGHT,
    DERIVED,
    MODEL_NAME,
    SST_AREAS,
    WEIGHT_GRID,
    Task,
    TrainingData,
    build_tasks,
    cross_fitted_results,
    load_training_data,
    reweight,
    select_contrast_weight,
    train,
    weight_criterion,
)

__all__ = [
    "CONTRAST_DIR",
    "CONTRAST_WEIGHT",
    "DERIVED",
    "MODEL_NAME",
    "SST_AREAS",
    "WEIGHT_GRID",
    "Task",
    "TrainingData",
    "build_tasks",
    "contrast_sha256",
    "cross_fitted_results",
    "is_heldout",
    "load_contrast",
    "load_training_data",
    "reweight",
    "select_contrast_weight",
    "train",
    "weight_criterion",
]
