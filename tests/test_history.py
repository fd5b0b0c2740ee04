"""The history user tower: windows that never look ahead, an encoder that reads order, training on
the next item that learns a sequential pattern the id tower cannot, and one path for every history."""

import numpy as np
import pytest
from keras import ops

from recsys.config import Config
from recsys.data.interactions import Interactions
from recsys.data.sequences import UserSequences, window_of
from recsys.errors import ConfigError, DataError
from recsys.model.history import HistoryEncoder
from recsys.model.sampling import InteractionDataset
from recsys.model.towers import EmbeddingModel, compute_embeddings


def random_interactions(n_users=30, n_items=40, seed=0, with_time=True, ties=False):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 15, n_users)
    users = np.repeat(np.arange(n_users), counts).astype(np.int32)
    rng.shuffle(users)
    items = rng.integers(0, n_items, len(users)).astype(np.int32)
    times = None
    if with_time:
        times = rng.integers(0, 5, len(users)).astype(float) if ties else rng.random(len(users))
    return Interactions(users, items, n_users, n_items, timestamps=times)


def reference_order(data: Interactions) -> list[list[int]]:
    """Each user's rows in time order, ties (and no timestamps) by row: the slow, obvious way."""
    rows: list[list[int]] = [[] for _ in range(data.n_users)]
    for row in range(len(data)):
        rows[data.users[row]].append(row)
    key = (lambda r: (data.timestamps[r], r)) if data.timestamps is not None else (lambda r: r)
    return [sorted(user_rows, key=key) for user_rows in rows]


@pytest.mark.parametrize("with_time, ties", [(True, False), (True, True), (False, False)])
def test_windows_hold_exactly_the_items_before_each_interaction(with_time, ties):
    data = random_interactions(with_time=with_time, ties=ties)
    sequences = UserSequences.of(data)
    length, pad = 4, data.n_items
    windows = sequences.windows_before(np.arange(len(data)), length)
    last = sequences.last_windows(length)
    for user, user_rows in enumerate(reference_order(data)):
        items = [int(data.items[r]) for r in user_rows]
        expected_last = ([pad] * length + items)[-length:]
        assert last[user].tolist() == expected_last
        for position, row in enumerate(user_rows):
            expected = ([pad] * length + items[:position])[-length:]
            assert windows[row].tolist() == expected  # nothing at or after the interaction itself


def test_window_of_lists_matches_the_sequences_of_the_same_items():
    data = random_interactions(seed=3)
    sequences = UserSequences.of(data)
    histories = [np.array([data.items[r] for r in rows], dtype=np.int32) for rows in reference_order(data)]
    assert np.array_equal(window_of(histories, 6, data.n_items), sequences.last_windows(6))


def test_the_encoder_reads_order_and_ignores_padding_positions():
    encoder = HistoryEncoder(n_users=1, n_items=10, embedding_dim=8, history_length=4, dropout=0.0)
    forward = ops.convert_to_numpy(encoder.encode(np.array([[10, 1, 2, 3]])))
    backward = ops.convert_to_numpy(encoder.encode(np.array([[10, 3, 2, 1]])))
    assert not np.allclose(forward, backward, atol=1e-4)  # order matters
    # One item alone, at the last position, gives the same answer however it is padded.
    single = ops.convert_to_numpy(encoder.encode(np.array([[10, 10, 10, 5]])))
    assert np.all(np.isfinite(single)) and np.all(np.isfinite(forward))
    # A batch answers each row as it would alone.
    batch = ops.convert_to_numpy(encoder.encode(np.array([[10, 1, 2, 3], [10, 10, 10, 5]])))
    np.testing.assert_allclose(batch, np.concatenate([forward, single]), rtol=1e-5, atol=1e-6)


def test_the_blocks_are_causal_an_item_changes_no_state_before_it():
    encoder = HistoryEncoder(
        n_users=1, n_items=10, embedding_dim=8, history_length=5, num_blocks=2, dropout=0.0
    )
    a, _ = encoder.states(np.array([[1, 2, 3, 4, 5]]))
    b, _ = encoder.states(np.array([[1, 2, 7, 4, 5]]))
    a, b = ops.convert_to_numpy(a), ops.convert_to_numpy(b)
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-6, atol=1e-6)  # before the change: equal
    assert not np.allclose(a[:, 2:], b[:, 2:])  # at and after it: moved
    pooled = ops.convert_to_numpy(encoder.encode(np.array([[1, 2, 3, 4, 5], [1, 2, 7, 4, 5]])))
    assert not np.allclose(pooled[0], pooled[1])


def test_training_batches_carry_the_windows_before_each_positive():
    data = random_interactions(seed=5)
    sequences = UserSequences.of(data)
    dataset = InteractionDataset(data, sequences=sequences, history_length=3, batch_size=16, seed=1)
    for index in range(len(dataset)):
        inputs, _, _ = dataset[index]
        rows = dataset._permutation[index * 16 : (index + 1) * 16]
        assert np.array_equal(inputs["history"], sequences.windows_before(rows, 3))
        assert np.array_equal(inputs["item"], data.items[rows])


def cyclic_sequences(n_users=200, n_items=30, length=12, seed=0):
    """Every user walks the catalogue in order from a random start: the next item is always the
    previous one + 1. Users share no items systematically, so an id tower can learn little."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_items, n_users)
    users = np.repeat(np.arange(n_users), length).astype(np.int32)
    steps = np.tile(np.arange(length), n_users)
    items = ((starts[users] + steps) % n_items).astype(np.int32)
    return Interactions(users, items, n_users, n_items, timestamps=steps.astype(float))


def test_the_history_tower_learns_the_next_item_where_the_id_tower_cannot():
    from recsys.model.training import build_model, fit

    data = cyclic_sequences()
    is_last = np.r_[data.users[1:] != data.users[:-1], True]
    train, test = data.subset(~is_last), data.subset(is_last)
    hits = {}
    for tower, loss in (("history", "softmax"), ("history", "full_softmax"), ("id", "softmax")):
        config = Config(
            user_tower=tower, embedding_dim=32, history_length=5, max_epochs=25, batch_size=128, seed=0,
            learning_rate=1e-2, recency_weighting=0.0, loss=loss,
        )  # fmt: skip
        model = build_model(config, data.n_users, data.n_items, None, None, train)
        fit(model, train, config, log_epochs=False)
        users, items = compute_embeddings(model, "user"), compute_embeddings(model, "item")
        best = np.argmax(users[test.users] @ items.T, axis=1)
        hits[tower, loss] = float(np.mean(best == test.items))
    assert hits["history", "softmax"] > 0.8 and hits["history", "full_softmax"] > 0.8, hits
    assert hits["history", "softmax"] > hits["id", "softmax"] + 0.4, hits


def test_a_known_users_embedding_is_the_encoder_of_their_saved_window():
    model = EmbeddingModel(n_users=3, n_items=6, embedding_dim=8, user_tower="history", history_length=4)
    windows = np.array([[6, 6, 1, 2], [0, 1, 2, 3], [6, 6, 6, 6]])
    model.set_tables(user_histories=windows)
    known = compute_embeddings(model, "user")
    again = ops.convert_to_numpy(model.user_embedding_from_history(windows))
    np.testing.assert_allclose(known, again, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match=r"\(rows, 4\) matrix"):
        model.user_embedding_from_history(np.zeros((2, 3), int))


def test_history_settings_are_checked():
    with pytest.raises(ConfigError, match="history_heads"):
        Config(user_tower="history", embedding_dim=30, history_heads=4).validate()
    with pytest.raises(ConfigError, match="user_tower"):
        Config(user_tower="sequence").validate()
    assert Config(user_tower="auto").effective_user_tower() == "id"  # unresolved by validation: the default
    model = EmbeddingModel(n_users=2, n_items=3, embedding_dim=8, user_tower="history", user_feature_dim=4)
    with pytest.raises(DataError, match=r"\(1, 4\) matrix, one row per history"):
        model.user_embedding_from_history(np.array([[3] * 50]), np.zeros((1, 3)))


@pytest.fixture(scope="module")
def history_recommender(tmp_path_factory):
    """A small history-tower Recommender with user features, trained on sequences, saved and
    loaded back: (recommender, loaded, frame, path, features by user id)."""
    import polars as pl

    from recsys.serve.recommender import Recommender

    data = cyclic_sequences(n_users=60, n_items=25, length=10, seed=2)
    frame = pl.DataFrame(
        {"user": data.users + 100, "item": data.items + 1000, "timestamp": data.timestamps + 1_700_000_000}
    )
    features = {100 + u: {"plan": f"p{u % 3}", "age": float(20 + u % 7)} for u in range(data.n_users)}
    config = Config(
        user_tower="history", embedding_dim=16, history_length=4, max_epochs=3, production_epochs=3,
        min_interactions_per_user=1, min_interactions_per_item=1, verbosity=0, batch_size=64,
    )  # fmt: skip
    recommender = Recommender.fit(frame, user_features=features, config=config)
    assert recommender.bundle.model.user_feature_dim > 0  # the history tower reads the features too
    path = recommender.save(tmp_path_factory.mktemp("bundle") / "model")
    return recommender, Recommender.load(path), frame, path, features


def test_a_known_user_is_ranked_as_their_own_history_is(history_recommender):
    """One path: a known user's list is the encoder of the user's training history and features,
    whichever way it is asked for, and the saved bundle reproduces it."""
    import polars as pl

    recommender, loaded, frame, _, features = history_recommender
    user = 105
    history = frame.filter(pl.col("user") == user).sort("timestamp")["item"].to_list()
    known = recommender.recommend(user, n=5)
    from_history = recommender.recommend_from_features(features[user], n=5, history=history)
    assert known.items == from_history.items
    np.testing.assert_allclose(known.scores, from_history.scores, rtol=1e-5)
    again = loaded.recommend(user, n=5)  # the saved bundle reproduces it
    assert again.items == known.items
    np.testing.assert_allclose(again.scores, known.scores, rtol=1e-5)
    # the features count: another plan, the same history, other scores
    other = {**features[user], "plan": "p0" if features[user]["plan"] != "p0" else "p1"}
    changed = recommender.recommend_from_features(other, n=5, history=history)
    assert not np.allclose(changed.scores, known.scores)
    cold = recommender.recommend_from_features(features[user], n=5)  # features alone: a cold user
    assert cold.fallback == [False] and len(cold.items[0]) == 5


def test_new_interactions_change_a_known_users_list_without_retraining(history_recommender):
    recommender, _, frame, _, features = history_recommender
    user = 107
    before = recommender.recommend(user, n=5)
    newer = [1003, 1004, 1005]
    after = recommender.recommend(user, n=5, new_interactions=newer)
    assert after.items != before.items
    assert not set(newer) & set(after.items[0])  # the new interactions count as seen
    # The same as a history: the saved window, then the new items, with the user's features.
    window = recommender.known_windows(np.array([recommender.user_vocab.indices_of([user])[0]]))[0]
    saved = recommender.item_vocab.ids.to_list()
    saved = [saved[int(i)] for i in window if i != recommender.bundle.model.n_items]
    as_history = recommender.recommend_from_features(
        features[user], n=25, history=saved + newer, exclude_history=False
    )
    scores = dict(zip(as_history.items[0], as_history.scores[0]))
    for item, score in zip(after.items[0], after.scores[0]):
        assert score == pytest.approx(scores[item], rel=1e-5)  # the same user vector
    # a user the model does not know, with new interactions: ranked from them, not the fallback
    stranger = recommender.recommend(999, n=5, new_interactions=newer)
    assert stranger.fallback == [False]
    assert stranger.items == recommender.recommend_from_history(newer, n=5).items


def test_new_interactions_need_the_history_tower(tmp_path):
    import polars as pl

    from recsys.serve.recommender import Recommender

    frame = pl.DataFrame({"user": [1, 1, 2, 2, 3, 3] * 3, "item": list(range(18))})
    config = Config(
        max_epochs=1,
        production_epochs=1,
        min_interactions_per_user=1,
        min_interactions_per_item=1,
        verbosity=0,
    )
    recommender = Recommender.fit(frame, config=config)
    with pytest.raises(DataError, match="user_tower = 'history'"):
        recommender.recommend(1, new_interactions=[3])


def test_the_service_runs_every_history_through_the_encoder(history_recommender, tmp_path):
    """The real server: a known user, a history, and a known user with newer interactions give
    the Recommender's answers (one path); the same body for an id-tower model is a 400."""
    pytest.importorskip("fastapi")
    from test_service import serving

    recommender, _, _, path, _ = history_recommender
    newer = [1003, 1004, 1005]
    with serving(path, tmp_path) as client:
        status, _, known = client.get("/recommend/107?n=5")
        assert status == 200
        assert [entry["item"] for entry in known["items"]] == recommender.recommend(107, n=5).items[0]
        status, _, visitor = client.post({"history": newer, "n": 5})
        expected = recommender.recommend_from_history(newer, n=5)
        assert status == 200 and not visitor["fallback"]
        assert [entry["item"] for entry in visitor["items"]] == expected.items[0]
        status, _, extended = client.post({"user": 107, "history": newer, "n": 5})
        expected = recommender.recommend(107, n=5, new_interactions=newer)
        assert status == 200, extended
        assert [entry["item"] for entry in extended["items"]] == expected.items[0]
        for entry, score in zip(extended["items"], expected.scores[0]):
            assert entry["score"] == pytest.approx(score, rel=1e-4)


def test_auto_keeps_the_tower_that_validates_better_and_production_follows_it(tmp_path, capsys):
    """On sequences only the order predicts, 'auto' validates both towers, keeps the history tower
    and the production run builds that tower; without timestamps it trains the id tower alone."""
    import json

    import polars as pl

    from recsys.data.experiment import Experiment
    from recsys.model.bundle import load_bundle
    from recsys.pipeline import run_actions
    from recsys.serve.recommender import Recommender

    data = cyclic_sequences(n_users=150, n_items=30, length=10, seed=3)
    frame = pl.DataFrame({"user": data.users, "item": data.items, "timestamp": data.timestamps})
    config = Config(
        user_tower="auto", timestamp_column="timestamp", split_strategy="leave_last_out",
        embedding_dim=32, history_length=5, max_epochs=6, batch_size=128, learning_rate=1e-2,
        recency_weighting=0.0, min_interactions_per_user=1, min_interactions_per_item=1,
        metrics_k=[10], monitor_metric="Recall@10", output_dir=str(tmp_path / "artifacts"),
        figures_dir=str(tmp_path / "figures"), report_fpath=str(tmp_path / "report.html"),
    )  # fmt: skip
    experiment = Experiment(config, lambda: (frame, None, None))
    run_actions(["train_validation_model", "train_production_model"], experiment)
    out = capsys.readouterr().out
    assert "user_tower 'auto': validating the history tower" in out
    assert "user_tower 'auto': validating the id tower" in out
    kept = json.loads((tmp_path / "artifacts" / "validation_model" / "metrics.json").read_text())
    assert kept["user_tower"] == "history", out
    assert "user_tower 'auto': the history tower, as kept by the validation run" in out
    assert load_bundle(tmp_path / "artifacts" / "production_model").model.user_tower == "history"

    unordered = Recommender.fit(
        frame.drop("timestamp"),
        config=config.replace(
            timestamp_column=None, split_strategy="random", max_epochs=2, production_epochs=2
        ),
    )
    assert unordered.bundle.model.user_tower == "id"
    assert unordered.bundle.metrics["user_tower"] == "id"
    out = capsys.readouterr().out
    assert "no timestamps" in out and "validating" not in out


def session_sequences(n_users=200, n_items=30, length=12, seed=0):
    """The step to the next item is 1 after a short gap between the two latest items and 2 after a
    long one: the item order alone cannot tell which, the items' ages can."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random((n_users, length)) < 0.5, 1.0, 1000.0)
    gaps[:, 0] = 0.0
    times = np.cumsum(gaps, axis=1)
    steps = np.ones((n_users, length), np.int64)
    steps[:, 2:] = np.where(gaps[:, 1:-1] == 1.0, 1, 2)  # item k+1 - item k follows gap (k-1 -> k)
    items = (rng.integers(0, n_items, (n_users, 1)) + np.cumsum(steps, axis=1) - 1) % n_items
    users = np.repeat(np.arange(n_users), length).astype(np.int32)
    return Interactions(users, items.ravel().astype(np.int32), n_users, n_items, timestamps=times.ravel())


def test_time_gaps_let_the_history_tower_read_when_items_were_taken():
    from recsys.model.training import build_model, fit

    data = session_sequences()
    is_last = np.r_[data.users[1:] != data.users[:-1], True]
    train, test = data.subset(~is_last), data.subset(is_last)
    hits = {}
    for gaps in (True, False):
        config = Config(
            user_tower="history", history_time_gaps=gaps, embedding_dim=32, history_length=4, max_epochs=20,
            batch_size=128, seed=0, learning_rate=1e-2, recency_weighting=0.0, history_dropout=0.0,
        )  # fmt: skip
        model = build_model(config, data.n_users, data.n_items, None, None, train)
        assert model.history_time_gaps is gaps
        fit(model, train, config, log_epochs=False)
        users, items = compute_embeddings(model, "user"), compute_embeddings(model, "item")
        best = np.argmax(users[test.users] @ items.T, axis=1)
        hits[gaps] = float(np.mean(best == test.items))
    assert hits[True] > 0.8, hits
    assert hits[True] > hits[False] + 0.25, hits


def test_ages_and_gap_buckets_of_windows():
    data = Interactions(
        np.array([0, 0, 0, 1]), np.array([5, 3, 4, 2]), 2, 6, timestamps=np.array([30.0, 10.0, 25.0, 5.0])
    )
    sequences = UserSequences.of(data)
    ages = sequences.last_ages(3)  # user 0: items 3, 4, 5 at 10, 25, 30; user 1: item 2 alone
    np.testing.assert_array_equal(ages[0], [20.0, 5.0, 0.0])
    assert np.isnan(ages[1, :2]).all() and ages[1, 2] == 0.0
    before = sequences.ages_before(np.array([0]), 3)  # before item 5: items 3, 4 (latest: 25)
    assert np.isnan(before[0, 0]) and list(before[0, 1:]) == [15.0, 0.0]
    from recsys.data.sequences import age_boundaries, gap_buckets

    boundaries = age_boundaries(ages, buckets=4)
    assert list(gap_buckets(ages, boundaries)[1]) == [0, 0, 1]  # unknown, unknown, the latest
    no_times = UserSequences.of(Interactions(data.users, data.items, 2, 6))
    assert np.isnan(no_times.last_ages(3)).all()
