"""The tuning search space: it holds the current settings, and the score weighting and recency
knobs only when the data has scores and timestamps."""

import optuna
import pytest

from recsys.config import Config
from recsys.eval.tuning import suggest


@pytest.mark.parametrize("has_scores, has_timestamps", [(True, True), (False, False)])
def test_search_space_follows_the_data(has_scores, has_timestamps):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    config = Config(score_weighting="auto")
    changes = suggest(trial, config, has_scores=has_scores, has_timestamps=has_timestamps)
    assert ("score_weighting" in changes) == has_scores
    assert ("recency_weighting" in changes) == has_timestamps
    if has_scores:
        choices = trial.distributions["score_weighting"].choices
        assert set(choices) == {"auto", "linear", "log"}  # both transforms, and the current setting
        assert changes["score_weighting"] in choices
    assert config.embedding_dim in trial.distributions["embedding_dim"].choices
    bias = trial.distributions["popularity_bias"]
    assert (bias.low, bias.high) == (0.0, 1.0) and 0.0 <= changes["popularity_bias"] <= 1.0


@pytest.mark.parametrize("user_tower, has_timestamps, searched", [
    ("history", False, True), ("auto", True, True), ("auto", False, False), ("id", True, False),
])  # fmt: skip
def test_the_history_encoder_is_searched_only_when_it_is_the_tower(user_tower, has_timestamps, searched):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    config = Config(user_tower=user_tower)
    for _ in range(20):  # with 'auto' the search picks the tower: the first trial that picks history
        trial = study.ask()
        changes = suggest(trial, config, has_scores=False, has_timestamps=has_timestamps)
        if changes.get("user_tower", user_tower) == "history":
            break
    assert ("history_length" in changes) == searched and ("history_blocks" in changes) == searched
    if searched:
        assert config.history_length in trial.distributions["history_length"].choices
        assert Config(**{**changes, "user_tower": user_tower}).validate()  # heads divide every dim searched
