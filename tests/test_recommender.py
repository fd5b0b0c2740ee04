"""The Recommender API: fit -> save -> load gives the same answers; unknown users fall back to the
most popular items (flagged); new users are folded in from their history; candidates restrict."""

import numpy as np
import polars as pl
import pytest
from planted import community_interactions

from recsys.config import Config
from recsys.errors import DataError
from recsys.log import messages_at, verbosity
from recsys.ranking.exact import SMALL_BATCH, ExactIndex
from recsys.serve.recommender import Recommender

SETTINGS = dict(
    embedding_dim=16,
    batch_size=64,
    max_epochs=8,
    learning_rate=0.02,
    min_interactions_per_user=1,
    min_interactions_per_item=1,
    metrics_k=[10],
    monitor_metric="Recall@10",
    split_strategy="random",
    verbosity=0,
)


@pytest.fixture(scope="module")
def planted():
    data, user_group, item_group = community_interactions(n_users=120, n_items=60, per_user=8, seed=5)
    frame = pl.DataFrame({"user": [f"u{u}" for u in data.users], "item": (data.items + 1000).tolist()})
    model = Recommender.fit(frame, config=Config(**SETTINGS))
    return model, frame, user_group, item_group


def test_a_quiet_fit_leaves_the_callers_verbosity_as_it_was(capsys):
    """`fit(config=Config(verbosity=0))` is quiet while it trains, and the program prints as before
    afterwards (the setting is not left behind in the process)."""
    frame = pl.DataFrame({"user": np.repeat(np.arange(20), 5), "item": np.arange(100) % 25})
    with messages_at(1):  # the caller's level
        Recommender.fit(frame, config=Config(**{**SETTINGS, "max_epochs": 1, "min_interactions_per_item": 1}))
        assert capsys.readouterr().out == "" and verbosity() == 1


def test_fit_save_load_gives_the_same_recommendations(planted, tmp_path):
    model, _, _, _ = planted
    users = ["u0", "u7", "u33"]
    before = model.recommend(users, n=5)
    model.save(tmp_path / "bundle")
    after = Recommender.load(tmp_path / "bundle").recommend(users, n=5)
    assert after.items == before.items
    assert np.allclose(np.array(after.scores), np.array(before.scores), atol=1e-5)


def test_known_users_get_their_community_and_no_seen_item(planted):
    model, frame, user_group, item_group = planted
    answer = model.recommend([f"u{u}" for u in range(12)], n=5)
    for u, items in enumerate(answer.items):
        seen = set(frame.filter(pl.col("user") == f"u{u}")["item"].to_list())
        assert not seen & set(items)
        same = np.mean([item_group[i - 1000] == user_group[u] for i in items])
        assert same >= 0.6, (u, items)
    assert answer.fallback == [False] * 12


def test_unknown_users_get_the_most_popular_items_flagged(planted):
    model, frame, _, _ = planted
    answer = model.recommend(["u3", "nobody"], n=4)
    counts = frame.group_by("item").len().sort(["len", "item"], descending=[True, False])
    assert answer.fallback == [False, True]
    assert answer.items[1] == counts["item"][:4].to_list()  # ranked by popularity ...
    assert np.isnan(answer.scores[1]).all()  # ... with no affinity to show: NaN, not the counts


def test_fold_in_from_history_recommends_the_community_and_reports_unknown_items(planted):
    model, frame, user_group, item_group = planted
    group_items = [i + 1000 for i in np.flatnonzero(item_group == 2)[:5]]
    answer = model.recommend_from_history(group_items + [999_999], n=5)
    assert answer.unknown_items == [[999_999]] and answer.fallback == [False]
    items = answer.items[0]
    assert not set(group_items) & set(items)
    assert np.mean([item_group[i - 1000] == 2 for i in items]) >= 0.6
    empty = model.recommend_from_history([999_999], n=3)
    assert empty.fallback == [True] and len(empty.items[0]) == 3


def test_fold_in_scores_are_the_mean_embedding_plus_the_popularity_prior(planted):
    """A folded-in user's score of an item is its dot product with the (scaled) mean of the
    history's embeddings plus FOLD_IN_POPULARITY_WEIGHT x centred log(1 + training interactions),
    in the small-batch and the large-batch paths alike."""
    from recsys.serve import recommender as module

    model, _, _, item_group = planted
    history = [i + 1000 for i in np.flatnonzero(item_group == 1)[:4]]
    matrix, _ = model.histories_matrix([history])
    vector = model.fold_in(matrix)[0]
    log_popularity = np.log1p(model.popularity)
    prior = module.FOLD_IN_POPULARITY_WEIGHT * (log_popularity - log_popularity.mean())
    expected = model.item_vectors @ vector + prior
    answer = model.recommend_from_history(history, n=6)
    index = model.item_vocab.indices_of(pl.Series(answer.items[0]))
    assert np.allclose(answer.scores[0], expected[index], atol=1e-4)
    assert module.FOLD_IN_POPULARITY_WEIGHT > 0 and np.ptp(prior) > 0
    many = model.recommend_from_history([history] * (SMALL_BATCH + 1), n=6)  # the blocked path
    assert many.items[0] == answer.items[0]
    assert np.allclose(many.scores[0], answer.scores[0], atol=1e-4)


@pytest.mark.parametrize("tower", ["id", "history"])
def test_popularity_bias_is_added_to_every_model_score_and_to_the_validation_metrics(tower):
    """With popularity_bias w, a known user's, a history's (history tower) and the validation
    metrics' scores are the affinity plus w x centred log(1 + training interactions)."""
    from recsys.eval.validation import model_scorer
    from recsys.ranking.popularity import item_counts, popularity_prior

    data, _, _ = community_interactions(n_users=60, n_items=40, per_user=6, seed=2)
    frame = pl.DataFrame({"user": data.users, "item": data.items, "time": np.arange(len(data.users))})
    settings = {**SETTINGS, "max_epochs": 2, "user_tower": tower, "popularity_bias": 0.5}
    model = Recommender.fit(frame, config=Config(**settings, timestamp_column="time"))
    prior = 0.5 * popularity_prior(item_counts(model.bundle.seen))
    assert np.ptp(prior) > 0
    affinity = model.user_vectors @ model.item_vectors.T
    answer = model.recommend(model.user_vocab.ids.to_list()[:5], n=8)
    for user in range(5):
        index = model.item_vocab.indices_of(pl.Series(answer.items[user]))
        assert np.allclose(answer.scores[user], affinity[user, index] + prior[index], atol=1e-4)
    scorer = model_scorer(model.bundle.model, model.bundle.seen, 0.5)  # what validation measures
    assert np.allclose(scorer(np.arange(5)), affinity[:5] + prior, atol=1e-4)
    with pytest.raises(DataError, match=r"adds a popularity bias .* which the given index lacks"):
        Recommender(model.bundle, index=ExactIndex(model.item_vectors)).recommend(answer.queries[:1])
    given = Recommender(model.bundle, index=ExactIndex(model.item_vectors, model.item_bias))
    assert given.recommend(answer.queries[:2], n=8).items == answer.items[:2]
    if tower == "history":
        history = model.item_vocab.ids.to_list()[:3]
        served = model.recommend_from_history(history, n=5)
        windows = model.windows(np.zeros(3, np.int64), np.arange(3), 1)
        vector = model.encode_histories(windows)[0]
        index = model.item_vocab.indices_of(pl.Series(served.items[0]))
        assert np.allclose(served.scores[0], model.item_vectors[index] @ vector + prior[index], atol=1e-4)


def test_candidates_and_similar_items(planted):
    model, _, _, item_group = planted
    candidates = [1000, 1001, 1002, 1003]
    answer = model.recommend(["u1", "nobody"], n=10, items=candidates)
    assert all(set(items) <= set(candidates) for items in answer.items)
    similar = model.similar_items([1000, 1005], n=3)
    assert 1000 not in similar.items[0] and len(similar.items[1]) == 3
    with pytest.raises(DataError, match="unknown item id"):
        model.similar_items(["not-an-item"])


@pytest.fixture(scope="module")
def with_features():
    from recsys.data.demo import generate_demo

    demo = generate_demo(n_users=300, seed=0)
    config = Config(**{**SETTINGS, "embedding_dim": 16, "max_epochs": 3})
    model = Recommender.fit(demo.interactions, demo.user_features, demo.item_features, config=config)
    return model, demo


def test_a_new_user_from_features_is_ranked_by_the_feature_path(with_features):
    from keras import ops

    model, demo = with_features
    row = demo.user_features.row(0, named=True)
    features = {k: v for k, v in row.items() if k != "id"}
    answer = model.recommend_from_features(features, n=5)
    encoded = model.bundle.user_encoder.transform_records([features])
    vector = ops.convert_to_numpy(model.bundle.model.user_embedding_from_features(encoded))[0]
    expected = np.argsort(-(model.item_vectors @ vector), kind="stable")[:5]
    assert answer.items[0] == model.item_vocab.to_python(expected) and answer.fallback == [False]
    history = answer.items[0][:2]
    with_history = model.recommend_from_features(features, n=5, history=history)
    assert not set(history) & set(with_history.items[0])


def test_added_items_are_recommended_and_similar_and_saved(with_features, tmp_path):
    from keras import ops

    model, demo = with_features
    source = demo.item_features.filter(pl.col("id").is_in(model.item_vocab.ids.implode())).row(0, named=True)
    features = {k: v for k, v in source.items() if k != "id"}
    new_id = int(model.item_vocab.ids.max()) + 1
    assert model.add_items({new_id: features}) == 1
    index = int(model.item_vocab.indices_of([new_id])[0])
    encoded = model.bundle.item_encoder.transform_records([features])
    cold = ops.convert_to_numpy(model.bundle.model.item_embedding_from_features(encoded))[0]
    assert np.allclose(model.item_vectors[index], cold, atol=1e-5)
    everything = model.recommend(model.user_vocab.to_python()[:3], n=len(model.item_vocab))
    assert all(new_id in items for items in everything.items)
    assert new_id in model.similar_items(source["id"], n=len(model.item_vocab) - 1).items[0]
    model.save(tmp_path / "grown")
    again = Recommender.load(tmp_path / "grown")
    assert again.recommend(["nobody"], n=3).items == model.recommend(["nobody"], n=3).items
    assert np.allclose(again.item_vectors[index], cold, atol=1e-5)
    with pytest.raises(DataError, match="already in the catalogue"):
        again.add_items({new_id: features})


@pytest.mark.parametrize("bad_id", [905.5, True, "9x", None, float("nan")])
def test_new_item_ids_follow_the_id_rules_never_rounded_or_cast(with_features, bad_id):
    """An integer catalogue: 905.5, True, "9x" are no ids (never item 905 or item 1), and nothing
    is added when one id is bad."""
    model, demo = with_features
    source = demo.item_features.row(0, named=True)
    features = {k: v for k, v in source.items() if k != "id"}
    before = len(model.item_vocab)
    fresh = int(model.item_vocab.ids.max()) + 10
    with pytest.raises(
        DataError, match=r"is not an id of this catalogue, whose ids are whole numbers"
    ) as error:
        model.add_items({fresh: features, bad_id: features})
    assert "\n" not in str(error.value)
    assert len(model.item_vocab) == before and fresh not in model.item_vocab.python_ids


def test_new_item_ids_given_twice_are_refused(with_features):
    model, demo = with_features
    features = {k: v for k, v in demo.item_features.row(0, named=True).items() if k != "id"}
    fresh = int(model.item_vocab.ids.max()) + 20
    with pytest.raises(DataError, match="given more than once"):
        model.add_items(pl.DataFrame({"id": [fresh, fresh], **{k: [v, v] for k, v in features.items()}}))


@pytest.mark.parametrize("bad_n", [-1, 1.5, True, "5", None])
def test_n_is_checked_in_every_public_query(planted, bad_n):
    model, _, _, _ = planted
    user, item = model.user_vocab.python_ids[0], model.item_vocab.python_ids[0]
    for query in (
        lambda: model.recommend(user, n=bad_n),
        lambda: model.recommend_from_history([item], n=bad_n),
        lambda: model.similar_items(item, n=bad_n),
    ):
        with pytest.raises(DataError, match=r"n must be a whole number >= 0"):
            query()


def test_a_huge_n_is_capped_at_the_catalogue(planted):
    model, _, _, _ = planted
    user, item = model.user_vocab.python_ids[0], model.item_vocab.python_ids[0]
    n_items = len(model.item_vocab)
    seen = len(model.bundle.seen[0].indices)
    assert len(model.recommend(user, n=10**12).items[0]) == n_items - seen
    assert len(model.similar_items(item, n=10**12).items[0]) == n_items - 1
    assert len(model.recommend(user, n=0).items[0]) == 0


def test_large_batches_go_through_the_retrieval_index_with_the_same_answers(planted):
    from recsys.ranking.index import make_index

    model, _, _, _ = planted
    users = model.user_vocab.to_python()  # more than a small batch: ranked by the index
    exact = model.recommend(users, n=5)
    assert model.index.kind == "exact"
    model._index = make_index(model.item_vectors, kind="ann", n_lists=4, n_probe=4)  # every list: exact
    try:
        approximate = model.recommend(users, n=5)
    finally:
        model._index = None
    assert approximate.items == exact.items


def test_a_dislike_is_never_recommended_back_and_survives_save_and_load(tmp_path):
    """Scores below zero are dropped from training (negative_scores='drop') and stay excluded
    from that user's recommendations, through every path, after a save and a load."""
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(40), 8)
    items = np.concatenate([rng.choice(30, 8, replace=False) for _ in range(40)])
    scores = np.where(rng.random(len(users)) < 0.25, -1.0, 4.0)
    frame = pl.DataFrame({"user": users, "item": items, "score": scores})
    config = Config(
        **{**SETTINGS, "max_epochs": 2, "min_interactions_per_item": 1, "min_interactions_per_user": 1}
    )
    model = Recommender.fit(frame, config=config)
    disliked = frame.filter(pl.col("score") < 0)
    assert disliked.height > 0
    model.save(tmp_path / "bundle")
    for reloaded in (model, Recommender.load(tmp_path / "bundle")):
        answer = reloaded.recommend(disliked["user"].unique().to_list(), n=30)
        recommended = {(u, i) for u, items in zip(answer.queries, answer.items) for i in items}
        assert not recommended & set(zip(disliked["user"].to_list(), disliked["item"].to_list()))
        everything = reloaded.recommend(disliked["user"].unique().to_list(), n=30, exclude_seen=False)
        shown = {(u, i) for u, items in zip(everything.queries, everything.items) for i in items}
        assert not shown & set(zip(disliked["user"].to_list(), disliked["item"].to_list()))


def test_fit_reports_its_epochs_and_where_its_data_came_from(capsys):
    """At verbosity 1, `fit` prints what the command line prints: one line per epoch of the
    validation run and of the final model, under a line saying which is which; the data are named
    as what the caller gave, never data.py; a run the epoch cap stopped while improving says so."""
    frame = pl.DataFrame({"user": np.repeat(np.arange(20), 5), "item": np.arange(100) % 25})
    config = Config(**{**SETTINGS, "max_epochs": 1, "min_interactions_per_item": 1, "verbosity": 1})
    Recommender.fit(frame, config=config)
    captured = capsys.readouterr()
    out = captured.out
    assert "Reading interactions from the polars DataFrame given to Recommender.fit" in out
    assert "data.py" not in out and "get_raw_data" not in out
    assert "Validation run on a split of the data" in out
    assert "Training the final model on all 100 interactions for 1 epoch." in out
    assert out.count("epoch 1/1:") == 2  # the validation run's epoch, then the final model's
    assert f"{config.monitor_metric} was still improving at the last epoch (max_epochs=1)" in captured.err
    with pytest.raises(DataError, match=r"^Recommender.fit interactions: "):
        Recommender.fit(pl.DataFrame({"usr": [1], "item": [2]}), config=config)
