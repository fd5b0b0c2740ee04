"""Training end to end on planted communities, every loss; checkpoints and early stopping."""

import numpy as np
import pytest
from keras import ops
from planted import community_interactions

from recsys.config import LOSSES, Config
from recsys.data.interactions import Interactions
from recsys.data.splitting import split_interactions
from recsys.data.weighting import positive_weights
from recsys.eval.evaluation import evaluate
from recsys.eval.popular import MostPopular
from recsys.eval.validation import evaluate_model, fit_with_validation
from recsys.model.tasks import TASKS, item_log_q
from recsys.model.training import build_model, fit, make_dataset


def small_config(**changes):
    base = dict(
        embedding_dim=16,
        batch_size=64,
        max_epochs=6,
        early_stopping_patience=3,
        learning_rate=0.01,
        split_strategy="random",
        metrics_k=[10],
        monitor_metric="Recall@10",
        seed=3,
    )
    return Config().replace(**{**base, **changes})


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_learns_the_communities(loss):
    data, _, _ = community_interactions()
    softmax = loss in ("softmax", "full_softmax")
    config = small_config(
        loss=loss,
        normalize_embeddings=softmax,
        learning_rate=0.01 if softmax else 0.02,
        max_epochs=8,
    )
    split = split_interactions(data, config)
    model = build_model(config, data.n_users, data.n_items, None, None, split.train)
    result = fit_with_validation(model, split.train, split.validation, config, log_epochs=False)
    train_matrix = split.train.user_item_matrix()
    popular = evaluate(
        MostPopular().fit(train_matrix).scorer(), train_matrix, split.validation.user_item_matrix(), [10]
    )
    assert result.best_metrics["Recall@10"] > popular["Recall@10"] + 0.1, (result.best_metrics, popular)
    assert len(result.history["loss"]) == len(result.history["val_Recall@10"])


@pytest.mark.parametrize("min_delta", [0.0, 1.0])
def test_best_weights_are_restored_and_checkpointed(tmp_path, min_delta):
    """The best epoch is the last one that beat the best by `early_stopping_min_delta` (with 0:
    the highest; with 1.0, more than a ranking metric can rise: the first). The model holds its
    weights, and so does the checkpoint file."""
    data, _, _ = community_interactions(seed=1)
    config = small_config(max_epochs=5, learning_rate=0.05, early_stopping_min_delta=min_delta)
    split = split_interactions(data, config)
    model = build_model(config, data.n_users, data.n_items, None, None, split.train)
    checkpoint = tmp_path / "best.weights.h5"
    result = fit_with_validation(
        model, split.train, split.validation, config, checkpoint_path=checkpoint, log_epochs=False
    )
    history = result.history["val_Recall@10"]
    if min_delta == 0:
        assert result.best_epoch == int(np.argmax(history)) + 1
    else:  # no later epoch counts as an improvement: stopped after `patience` more epochs
        assert result.best_epoch == 1 and len(history) == 1 + config.early_stopping_patience
    matrices = split.train.user_item_matrix(), split.validation.user_item_matrix()
    now = evaluate_model(model, *matrices, [10])
    assert now["Recall@10"] == pytest.approx(history[result.best_epoch - 1], abs=1e-6)
    restored = build_model(config, data.n_users, data.n_items, None, None, split.train)
    restored.load_weights(str(checkpoint))
    assert evaluate_model(restored, *matrices, [10])["Recall@10"] == pytest.approx(now["Recall@10"], abs=1e-6)


def test_training_is_reproducible_for_a_seed():
    data, _, _ = community_interactions(seed=2)
    config = small_config(max_epochs=2)
    losses = []
    for _ in range(2):
        model = build_model(config, data.n_users, data.n_items, None, None, data)
        losses.append(fit(model, data, config, log_epochs=False).history["loss"])
    assert np.allclose(losses[0], losses[1], rtol=1e-4)


def test_features_flow_into_the_towers():
    data, user_group, item_group = community_interactions(seed=4)
    config = small_config(max_epochs=1)
    user_features = np.eye(4, dtype="float32")[user_group]
    item_features = np.eye(4, dtype="float32")[item_group]
    model = build_model(config, data.n_users, data.n_items, user_features, item_features, data)
    assert model.user_encoder.feature_dim == 4 and model.item_encoder.feature_dim == 4
    ids_only = build_model(
        config.replace(use_item_features=False),
        data.n_users,
        data.n_items,
        user_features,
        item_features,
        data,
    )
    assert ids_only.item_encoder.feature_dim == 0


@pytest.mark.parametrize("loss", LOSSES)
def test_the_task_decides_negatives_targets_and_tables(loss):
    data, _, _ = community_interactions(seed=5)
    scores = np.random.default_rng(0).integers(1, 6, len(data)).astype("float32")
    train = Interactions(data.users, data.items, data.n_users, data.n_items, scores=scores)
    config = small_config(loss=loss, num_negatives=3, recency_weighting=0.0)
    model = build_model(config, data.n_users, data.n_items, None, None, train)
    assert type(model.task) is TASKS[loss]
    x, targets, weights = make_dataset(train, config)[0]
    expected_negatives = 0 if loss in ("softmax", "full_softmax") else 3
    assert x.get("negatives", np.zeros((len(x["user"]), 0))).shape == (len(x["user"]), expected_negatives)
    rows = make_dataset(train, config)._permutation[: len(x["user"])]
    if loss == "mse":  # scores become the targets, and are then not weights too
        assert np.allclose(targets, scores[rows] / 5.0) and np.allclose(weights, 1.0)
    else:
        assert np.allclose(targets, 1.0)
        assert np.allclose(weights, positive_weights(train, True, 0.0)[rows])
    if loss == "softmax":
        assert np.allclose(ops.convert_to_numpy(model.task.item_log_q), item_log_q(train))


def test_the_full_softmax_warns_of_a_catalogue_too_large_for_it(capsys):
    from recsys.model.training import task_from_config

    task_from_config(small_config(loss="full_softmax", batch_size=1024), n_items=100_000)
    assert capsys.readouterr().err == ""
    task_from_config(small_config(loss="full_softmax", batch_size=1024), n_items=1_000_000)
    err = capsys.readouterr().err
    assert "all 1,000,000 items" in err and "loss = 'softmax'" in err


def test_count_scores_are_log_weighted_and_the_choice_is_printed(capsys):
    data, _, _ = community_interactions(seed=6)
    plays = np.round(np.exp(np.random.default_rng(1).normal(3.0, 2.0, len(data)))) + 1
    train = Interactions(data.users, data.items, data.n_users, data.n_items, scores=plays.astype("float32"))
    config = small_config(max_epochs=1, recency_weighting=0.0)
    _, _, weights = make_dataset(train, config)[0]
    rows = make_dataset(train, config)._permutation[: len(weights)]
    assert np.allclose(weights, positive_weights(train, True, 0.0, "log")[rows])
    model = build_model(config, data.n_users, data.n_items, None, None, train)
    fit(model, train, config, log_epochs=True)
    out = capsys.readouterr().out
    assert "scores weigh positives by 1 + log(1 + score / median)" in out and "look like counts" in out


def test_epoch_lines_estimate_the_time_left(capsys):
    """From the third epoch a line says how long the rest takes (with early stopping, at most that);
    the last epoch says nothing."""
    from recsys.log import messages_at
    from recsys.model.callbacks import EpochLog

    for monitor, prefix in ((None, "~"), ("NDCG@20", "at most ~")):
        log = EpochLog(["NDCG@20"], monitor=monitor)
        log.set_params({"epochs": 5, "steps": 1})
        with messages_at(1):
            for epoch in range(5):
                log.on_epoch_begin(epoch)
                log.on_epoch_end(epoch, {"loss": 1.0, "val_NDCG@20": 0.1 * epoch})
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 5
        assert all("left" not in line for line in lines[:2] + lines[4:])
        assert all(f"  {prefix}" in line and line.endswith(" s left") for line in lines[2:4]), lines
