"""The synthetic demo dataset: shape, types, determinism, long tail and the planted signal."""

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.data.demo import default_interactions_per_user, default_n_items, generate_demo, write_demo_files
from recsys.data.loading import load_from_files
from recsys.errors import ConfigError


@pytest.fixture(scope="module")
def demo():
    return generate_demo(n_users=3000, seed=0)


@pytest.fixture(scope="module")
def joined(demo):
    """Interactions with both feature tables joined on."""
    return demo.interactions.join(demo.user_features, left_on="user", right_on="id").join(
        demo.item_features, left_on="item", right_on="id"
    )


def test_deterministic_for_a_seed_and_different_for_another():
    a, b, c = generate_demo(300, seed=7), generate_demo(300, seed=7), generate_demo(300, seed=8)
    assert a.interactions.equals(b.interactions)
    assert a.user_features.equals(b.user_features) and a.item_features.equals(b.item_features)
    assert not a.interactions.equals(c.interactions)


def test_columns_and_types(demo):
    assert demo.interactions.schema == pl.Schema(
        {"user": pl.String, "item": pl.Int64, "score": pl.Float64, "timestamp": pl.Float64}
    )
    assert demo.user_features.columns == ["id", "age", "country", "platform"]
    assert demo.item_features.columns == ["id", "genres", "difficulty", "price"]
    assert demo.user_features["id"].dtype == pl.String and demo.item_features["id"].dtype == pl.Int64
    assert demo.has_scores and demo.has_timestamps
    assert demo.interactions["user"].str.starts_with("player_").all()
    # some features are missing, as in real data
    assert 0 < demo.user_features["age"].null_count() < 0.1 * demo.user_features.height
    assert 0 < demo.item_features["price"].null_count() < 0.1 * demo.item_features.height
    assert demo.item_features["genres"].str.contains("|", literal=True).any()


def test_scores_are_ratings_one_to_five(demo):
    scores = demo.interactions["score"]
    assert sorted(scores.unique().to_list()) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert 3.0 < scores.mean() < 4.0


def test_no_repeated_pairs_and_features_for_every_id(demo):
    frame = demo.interactions
    assert not frame.select("user", "item").is_duplicated().any()
    assert frame["user"].is_in(demo.user_features["id"].implode()).all()
    assert frame["item"].is_in(demo.item_features["id"].implode()).all()
    assert demo.user_features["id"].n_unique() == demo.user_features.height == 3000
    assert demo.item_features["id"].n_unique() == demo.item_features.height == default_n_items(3000)


def test_long_tail_popularity_and_skewed_activity(demo):
    item_counts = np.sort(demo.interactions.group_by("item").len()["len"].to_numpy())[::-1]
    top = item_counts[: len(item_counts) // 10].sum() / item_counts.sum()
    assert top > 0.40
    user_counts = demo.interactions.group_by("user").len()["len"].to_numpy()
    assert user_counts.mean() > 1.2 * np.median(user_counts)  # right-skewed
    assert user_counts.max() > 4 * np.median(user_counts)


def test_timestamps_span_the_year_with_per_user_sequences(demo):
    times = demo.interactions["timestamp"]
    start = 1672531200.0  # 2023-01-01
    assert times.min() >= start and times.max() < start + 366 * 86400
    assert (times.max() - times.min()) > 300 * 86400
    spans = demo.interactions.group_by("user").agg(
        (pl.col("timestamp").max() - pl.col("timestamp").min()).alias("span")
    )
    assert (spans["span"] > 86400).mean() > 0.9  # users act over time, not all at once


def test_size_scales_with_num_users():
    small, large = generate_demo(500, seed=1), generate_demo(2000, seed=1)
    assert (
        large.item_features.height
        == default_n_items(2000)
        > small.item_features.height
        == default_n_items(500)
    )
    assert large.interactions.height > 3 * small.interactions.height
    mean = large.interactions.height / 2000
    assert (
        0.85 * default_interactions_per_user(default_n_items(2000))
        < mean
        < 1.1 * default_interactions_per_user(default_n_items(2000))
    )
    assert default_n_items(140_000) == 26_600 and 130 < default_interactions_per_user(26_600) < 150


def test_planted_feature_signal(joined):
    """Genre choices follow the designed age and platform preferences, well beyond chance."""
    genre = lambda name: pl.col("genres").str.contains(name, literal=True).mean()  # noqa: E731
    by_age = (
        joined.filter(pl.col("age").is_not_null())
        .group_by(pl.col("age") < 22)
        .agg(genre("Shooter").alias("shooter"))
    )
    young = by_age.filter(pl.col("age"))["shooter"].item()
    older = by_age.filter(~pl.col("age"))["shooter"].item()
    assert young > 1.3 * older
    by_platform = joined.group_by("platform").agg(genre("Casual").alias("casual")).sort("platform")
    casual = dict(zip(by_platform["platform"], by_platform["casual"]))
    assert casual["mobile"] > 1.3 * casual["pc"]
    # ratings follow affinity too: young players rate shooters higher than older players do
    shooters = joined.filter(pl.col("genres").str.contains("Shooter") & pl.col("age").is_not_null())
    rating = shooters.group_by(pl.col("age") < 22).agg(pl.col("score").mean()).sort("age")["score"].to_list()
    assert rating[1] > rating[0] + 0.05


def test_ids_carry_signal_beyond_features(demo):
    """Players with identical features still differ (latent tastes): a low-rank model of one half of
    a player's history predicts the other half better from their own first half than from the
    first half of a partner with the same country, platform and age decade."""
    users = (
        demo.user_features.filter(pl.col("age").is_not_null())
        .with_columns((pl.col("age") // 10).alias("decade"))
        .sort("country", "platform", "decade", "id")
        .with_row_index("u")
    )
    segment = ["country", "platform", "decade"]
    users = users.with_columns(
        pl.col("u").shift(-1).over(segment).fill_null(pl.col("u").first().over(segment)).alias("partner")
    )
    frame = demo.interactions.join(users.select("id", "u"), left_on="user", right_on="id")
    rows, cols = frame["u"].to_numpy().astype(int), frame["item"].rank("dense").to_numpy().astype(int) - 1
    first = np.random.default_rng(0).random(len(rows)) < 0.5
    a = np.zeros((users.height, cols.max() + 1))
    b = np.zeros_like(a)
    a[rows[first], cols[first]] = 1
    b[rows[~first], cols[~first]] = 1
    weight = 1 / np.sqrt(a.sum(axis=0) + 1)
    gram = (a * weight).T @ (a * weight)
    basis = np.random.default_rng(0).normal(size=(gram.shape[0], 32))
    for _ in range(
        8
    ):  # subspace iteration -> top 32 right singular vectors (LAPACK's eigh can crawl on busy threads)
        basis = np.linalg.qr(gram @ basis)[0]

    def hits(history):
        scores = (history * weight) @ basis @ basis.T
        scores[a > 0] = -np.inf  # the player's own known games are never recommended
        top = np.argpartition(-scores, 20, axis=1)[:, :20]
        return np.take_along_axis(b, top, axis=1).sum(axis=1)

    partner = users["partner"].to_numpy().astype(int)
    has_partner = partner != np.arange(users.height)
    own, other = hits(a)[has_partner].sum(), hits(a[partner])[has_partner].sum()
    assert own > 1.25 * other


def test_write_demo_files_round_trip_through_csv_loading(tmp_path):
    paths = write_demo_files(tmp_path / "demo", n_users=200, seed=2)
    assert {p.name for p in paths.values()} == {"interactions.csv", "users.csv", "items.csv"}
    config = Config(
        raw_data_fpath=str(paths["interactions"]),
        score_column="score",
        timestamp_column="timestamp",
        user_features_fpath=str(paths["users"]),
        item_features_fpath=str(paths["items"]),
    )
    loaded = load_from_files(config)
    expected = generate_demo(200, seed=2)
    assert loaded.interactions.equals(expected.interactions)
    assert loaded.user_features.equals(expected.user_features)
    assert loaded.item_features["genres"].equals(expected.item_features["genres"])


def test_too_few_users_is_config_error():
    with pytest.raises(ConfigError, match="at least 10"):
        generate_demo(n_users=3)


def test_new_games_do_not_pile_up_at_the_end_of_every_history(demo):
    """Games released during the year are played within a player's active window, after release:
    they must not crowd each player's last interactions (a time-based validation split would then
    be mostly new games, unlike training). Their share of each player's last 20 % by time stays
    within twice their share of the rest."""
    frame = demo.interactions.sort("user", "timestamp")
    first_play = frame.group_by("item").agg(pl.col("timestamp").min().alias("first"))
    mid_year = frame["timestamp"].min() + 0.5 * 365 * 86400
    new_games = first_play.filter(pl.col("first") > mid_year)["item"]
    ranked = frame.with_columns(
        (pl.int_range(pl.len()).over("user") >= (0.8 * pl.len()).over("user")).alias("last_fifth"),
        pl.col("item").is_in(new_games.implode()).alias("new"),
    )
    share = ranked.group_by("last_fifth").agg(pl.col("new").mean()).sort("last_fifth")["new"].to_list()
    assert len(new_games) > 0.1 * frame["item"].n_unique()
    assert share[1] < 2 * share[0], share


def test_hours_played_are_heavy_tailed_counts_of_the_same_interactions(demo):
    hours = generate_demo(n_users=3000, seed=0, score="hours")
    columns = ["user", "item", "timestamp"]
    assert hours.interactions.select(columns).equals(demo.interactions.select(columns))
    played, stars = hours.interactions["score"].to_numpy(), demo.interactions["score"].to_numpy()
    assert played.min() >= 0.1 and played.max() > 1000
    assert np.percentile(played, 99) > 10 * np.median(played)  # heavy tail
    assert np.corrcoef(np.log(played), stars)[0, 1] > 0.4  # the same liking drives both
    with pytest.raises(ConfigError, match="demo_score"):
        generate_demo(n_users=300, seed=0, score="minutes")
