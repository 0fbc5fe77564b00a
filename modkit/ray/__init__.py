"""Scoring and threshold fitting on Ray (optional extra: ``pip install 'modkit[ray]'``).

>>> import ray, modkit.ray  # doctest: +SKIP
>>> ds = ray.data.read_parquet("s3://bucket/logs/")  # doctest: +SKIP
>>> scored = modkit.ray.score_dataset(ds, "local", num_workers=8)  # doctest: +SKIP
>>> ts = modkit.ray.fit_thresholds_dataset(labelled, "precision>=0.9")  # doctest: +SKIP

The counting and merging functions (:func:`score_counts`, :func:`merge_counts`,
:func:`fit_from_counts`) need no Ray and work with any engine that can map a function
over shards and collect small tables.
"""

from ._counts import ScoreCounts, fit_from_counts, merge_counts, score_counts
from ._score import RateBudget, fit_thresholds_dataset, rate_budget, score_dataset

__all__ = [
    "RateBudget",
    "ScoreCounts",
    "fit_from_counts",
    "fit_thresholds_dataset",
    "merge_counts",
    "rate_budget",
    "score_counts",
    "score_dataset",
]
