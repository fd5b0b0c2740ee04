"""How positives weigh (`recsys.data.weighting`): a score of 0 weighs as the lowest positive score,
whatever the other scores are (the `zero_scores = 'keep'` policy)."""

import numpy as np
import pytest

from recsys.data.interactions import Interactions
from recsys.data.weighting import positive_weights, score_weights


@pytest.mark.parametrize("weighting", ["linear", "log"])
def test_a_zero_score_weighs_as_the_lowest_positive_score(weighting):
    scores = np.array([0.0, 1.0, 3.0, 0.0, 40.0])
    weights = score_weights(scores, weighting)
    assert weights[0] == weights[3] == weights[1] > 0  # the zeros weigh as the lowest positive (1)
    assert weights[1] < weights[2] < weights[4]
    without_zeros = score_weights(scores[[1, 2, 4]], weighting)
    np.testing.assert_allclose(weights[[1, 2, 4]], without_zeros)  # the zeros change no other weight


@pytest.mark.parametrize("scores", [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0], [2.0, 2.0, 2.0, 2.0]])
def test_zero_scores_weigh_alike_whatever_the_other_scores(scores):
    """All zero, or all zero but one: every positive weighs 1, as with equal scores."""
    data = Interactions(
        np.arange(4, dtype=np.int32), np.arange(4, dtype=np.int32), 4, 4, scores=np.array(scores, np.float32)
    )
    np.testing.assert_allclose(positive_weights(data, use_scores=True, recency=0.0), np.ones(4))
