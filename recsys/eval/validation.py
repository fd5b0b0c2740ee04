"""Training with validation: the two-tower model fitted while full-catalogue ranking metrics are
measured on held-out interactions after every epoch (early stopping and the checkpoint watch
`monitor_metric`, and the best epoch's weights are restored), and the most-popular baseline of
the same split, the bar every model must clear.

`fit_with_validation` trains a given model against given held-out interactions;
`fit_on_split` builds a new model for an `Experiment` and trains it on its training split
against its validation split (the validation run, compare's two-tower rows, a tuning trial and
`Recommender.fit`'s choice of epochs all do so). `fit_choosing_tower` is `fit_on_split` for a
config whose `user_tower` is 'auto': where the interactions have timestamps it trains both towers
and keeps the one with the better validation metric.

Example:
    >>> from recsys.config import Config
    >>> from recsys.data.experiment import Experiment
    >>> experiment = Experiment(Config(demo_num_users=300, max_epochs=2, verbosity=0))
    >>> result = fit_on_split(experiment, log_epochs=False)
    >>> result.best_epoch in (1, 2), 0 < result.best_metrics["NDCG@20"] <= 1
    (True, True)
"""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.data.interactions import Interactions
from recsys.eval.evaluation import Scorer, embedding_scorer, evaluate
from recsys.eval.popular import MostPopular
from recsys.log import say, warn
from recsys.metric_names import metric_names
from recsys.model.callbacks import EpochMetrics
from recsys.model.towers import EmbeddingModel, compute_embeddings
from recsys.model.training import TrainingResult, build_model, fit
from recsys.ranking.popularity import item_counts, popularity_prior

__all__ = [
    "evaluate_model",
    "fit_choosing_tower",
    "fit_on_split",
    "fit_with_validation",
    "model_scorer",
    "most_popular_metrics",
    "still_rising",
]


def evaluate_model(
    model: EmbeddingModel,
    train_matrix: sp.csr_matrix,
    heldout_matrix: sp.csr_matrix,
    ks: list[int],
    popularity_bias: float = 0.0,
) -> dict:
    """Ranking metrics of a two-tower model on held-out interactions, scored as it is served.

    Args:
        model: The model (its embeddings are computed afresh).
        train_matrix: users x items, the items each user's ranking excludes.
        heldout_matrix: users x items, the held-out interactions to find.
        ks: The cut-offs K.
        popularity_bias: The config's `popularity_bias`: its weight times the popularity prior of
            `train_matrix`'s items is added to every score (`model_scorer`).

    Returns:
        Metric name -> value, and `"users"`: the number of users averaged over.
    """
    return evaluate(model_scorer(model, train_matrix, popularity_bias), train_matrix, heldout_matrix, ks)


def model_scorer(model: EmbeddingModel, train_matrix: sp.csr_matrix, popularity_bias: float = 0.0) -> Scorer:
    """The scorer of a two-tower model as `recsys.serve.item_ranking.ItemRanking` ranks known users:
    the dot product of the embeddings, plus `popularity_bias` times the popularity prior of the
    training items (`recsys.ranking.popularity`).

    Args:
        model: The model (its embeddings are computed afresh).
        train_matrix: users x items, the training interactions (the items' popularity).
        popularity_bias: The prior's weight (0: none).

    Returns:
        The scorer (user indices -> scores).

    Example:
        >>> import numpy as np
        >>> model = EmbeddingModel(n_users=2, n_items=3, embedding_dim=4)
        >>> seen = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0]], np.float32))
        >>> plain, biased = model_scorer(model, seen), model_scorer(model, seen, 0.5)
        >>> lift = biased(np.arange(2)) - plain(np.arange(2))
        >>> bool(lift[0, 0] > lift[0, 1] > lift[0, 2])  # item 0 is the most popular, item 2 unseen
        True
    """
    bias = popularity_bias * popularity_prior(item_counts(train_matrix)) if popularity_bias else None
    return embedding_scorer(compute_embeddings(model, "user"), compute_embeddings(model, "item"), bias)


def fit_with_validation(
    model: EmbeddingModel,
    train: Interactions,
    validation: Interactions,
    config: Config,
    *,
    train_matrix: sp.csr_matrix | None = None,
    validation_matrix: sp.csr_matrix | None = None,
    **options: Any,
) -> TrainingResult:
    """Train `model` on `train` with ranking metrics on `validation` after every epoch.

    Args:
        model: A model from `recsys.model.training.build_model`.
        train: The training interactions.
        validation: The held-out interactions (of the same users and items).
        config: The run's settings (`metrics_k`, `monitor_metric`, early stopping, ...).
        train_matrix: users x items matrix of `train`, when the caller has it (not built again).
        validation_matrix: users x items matrix of `validation`, likewise.
        **options: Passed on to `recsys.model.training.fit` (checkpoint_path, baseline,
            log_epochs, extra_callbacks).

    Returns:
        The `TrainingResult`, the best epoch's weights restored into the model.
    """
    seen = train.user_item_matrix() if train_matrix is None else train_matrix
    heldout = validation.user_item_matrix() if validation_matrix is None else validation_matrix
    ks = list(config.metrics_k)
    bias = config.popularity_bias
    metrics = EpochMetrics(lambda trained: evaluate_model(trained, seen, heldout, ks, bias), metric_names(ks))
    result = fit(model, train, config, epoch_metrics=metrics, **options)
    if options.get("log_epochs", True) and still_rising(result, config):
        warn(
            f"{config.monitor_metric} was still improving at the last epoch (max_epochs="
            f"{config.max_epochs}): a larger max_epochs may give a better model."
        )
    return result


def still_rising(result: TrainingResult, config: Config) -> bool:
    """Whether the epoch cap, not early stopping, ended a run whose best epoch was its last.

    Args:
        result: A run with validation (`fit_with_validation`).
        config: Its settings.

    Returns:
        True when the run trained `max_epochs` epochs and the last was the best.

    Example:
        >>> from recsys.model.training import TrainingResult
        >>> run = TrainingResult(model=None, history={"loss": [3.0, 2.0]}, best_epoch=2)
        >>> still_rising(run, Config(max_epochs=2)), still_rising(run, Config(max_epochs=5))
        (True, False)
    """
    epochs_run = len(result.history.get("loss", []))
    return epochs_run >= config.max_epochs and result.best_epoch == epochs_run


def fit_on_split(
    experiment: Experiment, config: Config | None = None, with_features: bool = True, **options: Any
) -> TrainingResult:
    """A new model for the experiment's data, trained on its training split with ranking metrics on
    its validation split every epoch (early stopping, best weights restored).

    Args:
        experiment: The run's data (its matrices are reused, never rebuilt).
        config: Replaces the experiment's model settings (a tuning trial); default its own.
        with_features: False trains ids only (compare's id-only row).
        **options: Passed on to `recsys.model.training.fit`.

    Returns:
        The `TrainingResult`.
    """
    config = config or experiment.config
    prepared, split, features = experiment.prepared, experiment.split, experiment.features
    model = build_model(
        config,
        prepared.n_users,
        prepared.n_items,
        features.user_matrix if with_features else None,
        features.item_matrix if with_features else None,
        split.train,
    )
    return fit_with_validation(
        model,
        split.train,
        split.validation,
        config,
        train_matrix=experiment.train_matrix,
        validation_matrix=experiment.validation_matrix,
        **options,
    )


def fit_choosing_tower(experiment: Experiment, **options: Any) -> tuple[TrainingResult, Config]:
    """`fit_on_split`, with `user_tower = 'auto'` resolved by validation: where the training split
    has timestamps, the id tower and the history tower are both trained on it and the one with the
    higher `monitor_metric` on the validation split is kept (a tie keeps the id tower, the
    default); without timestamps a history has no order, and the id tower is trained alone. The
    choice and both values are printed. Any other `user_tower` is trained as configured.

    Args:
        experiment: The run's data.
        **options: Passed on to `fit_on_split` (a checkpoint path is written by the kept run last).

    Returns:
        The kept run's `TrainingResult`, and the experiment's config with `user_tower` resolved.

    Example:
        >>> from recsys.config import Config
        >>> from recsys.data.experiment import Experiment
        >>> config = Config(demo_num_users=300, max_epochs=2, verbosity=0, user_tower="auto")
        >>> result, chosen = fit_choosing_tower(Experiment(config), log_epochs=False)
        >>> chosen.user_tower in ("id", "history"), result.model.user_tower == chosen.user_tower
        (True, True)
    """
    config = experiment.config
    if config.user_tower != "auto":
        return fit_on_split(experiment, **options), config
    if experiment.split.train.timestamps is None:
        say("user_tower 'auto': the id tower (no timestamps, so a history has no order to read).")
        chosen = config.replace(user_tower="id")
        return fit_on_split(experiment, chosen, **options), chosen
    monitor, runs = config.monitor_metric, {}
    for tower in ("history", "id"):  # the id tower last: on a tie it is kept, and its checkpoint stands
        say(f"user_tower 'auto': validating the {tower} tower.")
        candidate = config.replace(user_tower=tower)
        runs[tower] = (fit_on_split(experiment, candidate, **options), candidate)
    values = {tower: run.best_metrics.get(monitor, float("-inf")) for tower, (run, _) in runs.items()}
    kept, other = ("history", "id") if values["history"] > values["id"] else ("id", "history")
    say(
        f"user_tower 'auto': the {kept} tower ({monitor} {values[kept]:.4f}; the {other} tower "
        f"{values[other]:.4f})."
    )
    result, chosen = runs[kept]
    checkpoint = options.get("checkpoint_path")
    if checkpoint and kept != "id":  # the file holds the last run's best epoch: make it the kept one's
        result.model.save_weights(str(checkpoint), overwrite=True)
    return result, chosen


def most_popular_metrics(experiment: Experiment) -> dict:
    """Most-popular's metrics on the experiment's validation split: the bar every model must clear.

    Args:
        experiment: The run's data.

    Returns:
        Metric name -> value at the config's `metrics_k`, and `"users"`.
    """
    popular = MostPopular().fit(experiment.train_matrix)
    return evaluate(
        popular.scorer(), experiment.train_matrix, experiment.validation_matrix, experiment.config.metrics_k
    )
