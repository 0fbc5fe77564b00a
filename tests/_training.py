"""A small training set for the local scorer's trainer: 8 topics and 6 neutral notes.

Shared by the tests of ``modkit.training`` (training and cross-fitting) and of the local backend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modkit import OPENAI_1680_CODES
from modkit.training._train import SST_AREAS, TrainingData

_TOPICS = {
    "sexual": "explicit sex in the bedroom",
    "hate": "hating people because of their religion",
    "violence": "punching and stabbing a stranger",
    "harassment": "insulting my coworker every day",
    "self-harm": "cutting my own arms",
    "sexual/minors": "sexual contact with a child",
    "hate/threatening": "threatening to kill an ethnic group",
    "violence/graphic": "blood and guts all over the floor",
}
_NEUTRAL = [
    "baking bread",
    "the football match",
    "a trip to the mountains",
    "learning the piano",
    "fixing my bicycle",
    "planting tomatoes",
]


def _fixture() -> TrainingData:
    rows = []
    for i in range(6):
        for cat, topic in _TOPICS.items():
            labels = dict.fromkeys(OPENAI_1680_CODES.values(), 0.0)
            labels[cat] = 1.0
            if i == 5:
                labels["hate"] = np.nan  # unlabelled, as in the real set
            rows.append({"text": f"Story {i}: a post about {topic}.", **labels})
        for j, topic in enumerate(_NEUTRAL):
            labels = dict.fromkeys(OPENAI_1680_CODES.values(), 0.0)
            if j == 0:
                labels["violence"] = np.nan
            rows.append({"text": f"Note {i}: I wrote about {topic}.", **labels})
    rows.append(dict(rows[-1]))  # an exact duplicate: must stay in one fold
    oai = pd.DataFrame(rows)
    sst = pd.DataFrame(
        [
            {
                "text": f"Question {i} about {area.lower()}?",
                "harm_area": area,
                "category": "Instructions and actions",
            }
            for area in SST_AREAS.values()
            for i in range(6)
        ]
    )
    return TrainingData(oai, sst, {})


FAST = {"n_splits": 3, "c_grid": (1.0,)}
