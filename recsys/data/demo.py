"""Built-in synthetic demo dataset: players rating games, with planted, learnable structure.

Why synthetic: the pipeline must run out of the box (no download) and be testable at any size,
and because the generating process is known, tests can check that a model recovers it.

The generating process (all vectorised; nothing loops per user or per interaction):

* Games have genres (1-3 of 12, multi-valued "Action|RPG"; 1% "(no genres listed)"), a difficulty,
  a price (some free, some missing), a long-tailed popularity, a hidden latent taste vector and a
  release date (30% come out in the second half of the year and are only played after it).
* Players have an age (6% missing in the table, but the true age still drives behaviour), a
  country and a platform. Together they form a "segment" whose genre, difficulty and price
  preferences are designed (young players like shooters, mobile players casual and cheap games,
  Japanese players RPGs, ...): this is the signal that features carry.
* Each player mixes three item distributions: their segment's, and two of 32 latent taste
  clusters (random weights); every distribution is tilted by popularity. Latent clusters are
  independent of all features, so ids carry signal that features cannot.
* A player's games are distinct draws from that mixture (successive sampling without
  replacement), their number is log-normal (skewed), ratings 1-5 rise with the player's affinity
  for the game (plus player and game biases and noise), and times fall within each player's
  active window during 2023, games of their second taste cluster later (taste drift). A player
  plays only games released before their window ends, and a new game after its release.

Sampling is O(interactions): draws go through the per-component CDFs (grouped by component, so
each binary search stays in cache), duplicates are removed per chunk of players.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.errors import ConfigError
from recsys.files import atomic_path
from recsys.log import plural, say

__all__ = ["default_interactions_per_user", "default_n_items", "generate_demo", "write_demo_files"]

GENRES = (
    "Action",
    "Adventure",
    "RPG",
    "Strategy",
    "Puzzle",
    "Shooter",
    "Sports",
    "Racing",
    "Simulation",
    "Horror",
    "Platformer",
    "Casual",
)
GENRE_WEIGHTS = np.array([0.30, 0.18, 0.14, 0.12, 0.10, 0.12, 0.08, 0.07, 0.09, 0.05, 0.08, 0.12])
NO_GENRES = "(no genres listed)"
COUNTRIES = ("US", "BR", "DE", "JP", "KR", "FR", "GB", "IN", "PL", "CA")
COUNTRY_WEIGHTS = np.array([0.28, 0.12, 0.10, 0.09, 0.07, 0.07, 0.08, 0.08, 0.05, 0.06])
PLATFORMS = ("pc", "console", "mobile")
PLATFORM_WEIGHTS = np.array([0.45, 0.30, 0.25])
DIFFICULTIES = ("easy", "medium", "hard")
AGE_EDGES = np.array([18, 25, 35, 45, 55])  # age buckets: <18, 18-24, 25-34, 35-44, 45-54, 55+
AGE_MIDS = np.array([15.5, 21.0, 29.5, 39.5, 49.5, 60.0])

# Genre preference per standardised year of age: positive = liked more by older players.
AGE_LOADING = dict(
    Shooter=-1.0,
    Action=-0.5,
    Platformer=-0.4,
    Horror=-0.5,
    Sports=-0.2,
    Racing=-0.2,
    RPG=-0.2,
    Strategy=0.5,
    Puzzle=0.8,
    Simulation=0.4,
    Casual=0.7,
)
COUNTRY_LOADING = {
    "US": dict(Shooter=0.4, Sports=0.4),
    "BR": dict(Sports=0.9, Racing=0.4),
    "DE": dict(Simulation=0.9, Strategy=0.4),
    "JP": dict(RPG=1.0, Puzzle=0.3, Shooter=-0.4),
    "KR": dict(Strategy=0.8, Shooter=0.4),
    "FR": dict(Adventure=0.6),
    "GB": dict(Racing=0.6, Sports=0.3),
    "IN": dict(Casual=0.6, Sports=0.5),
    "PL": dict(RPG=0.6, Strategy=0.3),
    "CA": dict(Horror=0.5, Sports=0.3),
}
PLATFORM_LOADING = {
    "pc": dict(Strategy=0.6, Simulation=0.5, RPG=0.3, Sports=-0.4),
    "console": dict(Sports=0.6, Racing=0.5, Shooter=0.3, Platformer=0.4, Strategy=-0.5),
    "mobile": dict(Casual=1.0, Puzzle=0.6, Shooter=-0.6, Simulation=-0.5, Strategy=-0.3),
}
PLATFORM_HARDNESS = np.array([0.3, 0.2, -0.6])  # pc, console, mobile: liking for hard games
PLATFORM_PRICE = np.array([-0.1, -0.1, -0.6])  # sensitivity to log(1 + price)

N_CLUSTERS, LATENT_DIM, CLUSTERS_PER_USER = 32, 16, 2
LATENT_STRENGTH = 14.0  # scale of cluster-item affinity (unit vectors in 16 dims: sd ~3.5)
POPULARITY_SD = 2.0  # sd of log popularity: the long tail
FEATURE_STRENGTH = 3.0  # scale of the segment (feature-driven) affinities
NEW_RELEASE_SHARE = 0.3  # share of games released during the year (the others predate it)
DRIFT_STRENGTH = 1.5  # how strongly a player's taste moves from their first latent cluster to their second
YEAR_START = 1672531200.0  # 2023-01-01T00:00:00Z
YEAR = 365 * 86400.0


def default_n_items(n_users: int) -> int:
    """Games scale with players (about 0.19 per player), between 50 and 50,000."""
    return int(np.clip(round(0.19 * n_users), 50, 50_000))


def default_interactions_per_user(n_items: int) -> float:
    """Mean games per player: ~35 with 570 games, ~143 with 27,000 (grows slowly with the catalogue)."""
    return 35.0 * (n_items / 570.0) ** 0.365


def _loading_matrix(names: tuple[str, ...], table: dict) -> np.ndarray:
    """(len(names) x n_genres) matrix from {name: {genre: weight}}."""
    matrix = np.zeros((len(names), len(GENRES)))
    for row, name in enumerate(names):
        for genre, weight in table.get(name, {}).items():
            matrix[row, GENRES.index(genre)] = weight
    return matrix


def _top_k_mask(rng: np.random.Generator, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, a boolean mask of `counts[row]` distinct columns drawn by weight (Gumbel top-k)."""
    keys = np.log(weights)[None, :] + rng.gumbel(size=(len(counts), len(weights)))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return ranks < counts[:, None]


def _make_items(rng: np.random.Generator, n_items: int) -> dict:
    n_genres = rng.choice([1, 2, 3], size=n_items, p=[0.45, 0.40, 0.15])
    no_genre = rng.random(n_items) < 0.01
    multi_hot = _top_k_mask(rng, GENRE_WEIGHTS, np.where(no_genre, 0, n_genres))
    # Hard games are more often strategy/RPG/shooter, easy ones casual/puzzle.
    hardness = multi_hot @ np.array([0.2, 0, 0.5, 0.6, -0.4, 0.4, 0, 0, 0.2, 0.3, 0.3, -0.9]) + rng.normal(
        0, 0.7, n_items
    )
    difficulty = np.digitize(hardness, [-0.35, 0.55])  # 0 easy, 1 medium, 2 hard
    free = rng.random(n_items) < 0.25
    price = np.where(free, 0.0, np.maximum(np.round(np.exp(rng.normal(2.6, 0.6, n_items))), 1.0) - 0.01)
    price_missing = rng.random(n_items) < 0.03
    latent = rng.normal(size=(n_items, LATENT_DIM))
    latent /= np.linalg.norm(latent, axis=1, keepdims=True)
    log_pop = rng.normal(0.0, POPULARITY_SD, n_items)
    quality = 0.15 * log_pop / POPULARITY_SD + rng.normal(0.0, 0.3, n_items)
    ids = np.sort(rng.choice(20 * n_items, size=n_items, replace=False) + 1).astype(np.int64)
    # Release dates: most games predate 2023 (-inf), the rest come out during the year (a fraction of it).
    new = rng.random(n_items) < NEW_RELEASE_SHARE
    release = np.where(new, 1.0 - 0.5 * rng.random(n_items), -np.inf)  # second half of the year
    return dict(
        ids=ids,
        multi_hot=multi_hot,
        difficulty=difficulty,
        price=price,
        price_missing=price_missing,
        latent=latent,
        log_pop=log_pop,
        quality=quality,
        release=release,
    )


def _make_users(rng: np.random.Generator, n_users: int) -> dict:
    age = np.clip(np.round(rng.normal(30.0, 11.0, n_users)), 13, 75).astype(np.int64)
    age_missing = rng.random(n_users) < 0.06
    country = rng.choice(len(COUNTRIES), size=n_users, p=COUNTRY_WEIGHTS)
    platform = rng.choice(len(PLATFORMS), size=n_users, p=PLATFORM_WEIGHTS)
    segment = (np.digitize(age, AGE_EDGES) * len(COUNTRIES) + country) * len(PLATFORMS) + platform
    # Mixture: weight of the segment's distribution, the rest over CLUSTERS_PER_USER latent clusters.
    segment_weight = rng.beta(3.0, 3.0, n_users)
    clusters = np.argsort(rng.random((n_users, N_CLUSTERS)), axis=1)[:, :CLUSTERS_PER_USER]
    cluster_share = rng.gamma(1.0, size=(n_users, CLUSTERS_PER_USER))
    cluster_share /= cluster_share.sum(axis=1, keepdims=True)
    bias = rng.normal(0.0, 0.35, n_users)
    width = max(5, len(str(n_users - 1)))
    ids = pl.select(
        (pl.lit("player_") + pl.Series(np.arange(n_users)).cast(pl.String).str.zfill(width)).alias("id")
    ).to_series()
    return dict(
        ids=ids,
        age=age,
        age_missing=age_missing,
        country=country,
        platform=platform,
        segment=segment,
        segment_weight=segment_weight,
        clusters=clusters,
        cluster_share=cluster_share,
        bias=bias,
    )


def _segment_affinity(items: dict) -> np.ndarray:
    """(segments x items) affinity of every (age bucket, country, platform) segment for every game."""
    age_std = (AGE_MIDS - 32.0) / 12.0
    age_load = _loading_matrix(("all",), {"all": AGE_LOADING})[0]
    country_load = _loading_matrix(COUNTRIES, COUNTRY_LOADING)
    platform_load = _loading_matrix(PLATFORMS, PLATFORM_LOADING)
    a_grid, c_grid, p_grid = np.meshgrid(
        np.arange(len(AGE_MIDS)), np.arange(len(COUNTRIES)), np.arange(len(PLATFORMS)), indexing="ij"
    )
    a, c, p = a_grid.ravel(), c_grid.ravel(), p_grid.ravel()  # segment order matches _make_users
    genre_pref = age_std[a, None] * age_load[None, :] + country_load[c] + platform_load[p]
    genres = items["multi_hot"] / np.sqrt(np.maximum(items["multi_hot"].sum(axis=1, keepdims=True), 1))
    hard_liking = -0.4 * age_std[a] + PLATFORM_HARDNESS[p]  # young and pc/console players like hard games
    difficulty_pref = hard_liking[:, None] * np.array([-1.0, 0.0, 1.0])[None, :]
    affinity = genre_pref @ genres.T + difficulty_pref[:, items["difficulty"]]
    affinity += PLATFORM_PRICE[p][:, None] * np.log1p(items["price"])[None, :]
    return FEATURE_STRENGTH * affinity


def _cdf_table(logits: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution (float64, last column exactly 1) of softmax(logits)."""
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    return cdf


def _draw_items(rng: np.random.Generator, component: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """One item per draw from the given component's distribution (binary search, grouped by component)."""
    u = rng.random(len(component))
    order = np.argsort(component.astype(np.int16), kind="stable")  # radix sort: O(draws)
    bounds = np.r_[0, np.cumsum(np.bincount(component, minlength=len(cdf)))]
    items = np.empty(len(component), dtype=np.int64)
    for c in np.flatnonzero(np.diff(bounds)):  # loop per component (<= ~212), not per draw
        rows = order[bounds[c] : bounds[c + 1]]
        items[rows] = np.searchsorted(cdf[c], u[rows], side="right")
    return np.minimum(items, cdf.shape[1] - 1)


_UNSEEN = np.iinfo(np.int32).max


def _distinct_draws(
    rng: np.random.Generator,
    k: np.ndarray,
    components: np.ndarray,
    cumulative_weights: np.ndarray,
    cdf: np.ndarray,
    first_seen: np.ndarray,
    window_end: np.ndarray,
    release: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """For a chunk of players, `k[p]` distinct games each from their mixture, in draw order.

    Draws with replacement and keeps each player's first k distinct games, which is successive
    sampling without replacement; players still short after a round draw again (a few rounds).
    A game released after a player's active window ends (`release[game] >= window_end[player]`,
    both fractions of the year) cannot be played by them: such draws are discarded, so the
    mixture is renormalised over the games out by then.
    `first_seen` is a reusable (players x games) table of first draw positions, all _UNSEEN on
    entry and on return, so duplicates are found without sorting.
    Returns (player index in the chunk, game index, total games still missing), player-major.
    """
    n_players, n_items = len(k), cdf.shape[1]
    players, games, keys = [], [], []
    have = np.zeros(n_players, dtype=np.int64)
    draws = np.ceil(1.3 * k + 5).astype(np.int64)
    drawn = 0
    for _ in range(8):  # a few rounds per chunk, not per player
        local = np.repeat(np.arange(n_players, dtype=np.int32), draws)
        slot = (rng.random(len(local))[:, None] >= cumulative_weights[local]).sum(axis=1)
        item = _draw_items(rng, components[local, slot], cdf)
        released = release[item] < window_end[local]
        local, item = local[released], item[released]
        key = local.astype(np.int64) * n_items + item
        position = np.arange(drawn, drawn + len(key), dtype=np.int32)
        np.minimum.at(first_seen, key, position)
        first = first_seen[key] == position
        players.append(local[first])
        games.append(item[first])
        keys.append(key[first])
        have += np.bincount(local[first], minlength=n_players)
        drawn += len(key)
        deficit = np.maximum(k - have, 0)
        if not deficit.any():
            break
        draws = np.where(deficit > 0, 2 * deficit + 5, 0)
    first_seen[np.concatenate(keys)] = _UNSEEN
    local, item = np.concatenate(players), np.concatenate(games)
    if len(players) > 1:  # player-major, earlier rounds first (stable radix sort on uint16)
        order = np.argsort(local.astype(np.uint16), kind="stable")
        local, item = local[order], item[order]
    rank = np.arange(len(local)) - np.searchsorted(local, np.arange(n_players))[local]
    pick = rank < k[local]
    return local[pick], item[pick], int(deficit.sum())


def generate_demo(
    n_users: int = 3000,
    seed: int = 0,
    n_items: int | None = None,
    interactions_per_user: float | None = None,
    score: str = "rating",
) -> RawData:
    """Synthetic players x games data: interactions (user, item, score, timestamp) and both
    feature tables. `score`: 'rating' (1-5 stars) or 'hours' (hours played, 0.1 to thousands,
    heavy-tailed: a count-like score); both rise with the player's liking for the game, and the
    interactions are the same for either.

    User ids are strings ("player_00042"), game ids integers. Games default to ~0.19 per player and
    interactions to ~35 per player at 3,000 players (~143 at 140,000). Deterministic for a seed.
    """
    if score not in ("rating", "hours"):
        raise ConfigError(f"demo_score must be 'rating' or 'hours', got {score!r}.")
    score_kind = score
    if int(n_users) < 10:
        raise ConfigError(f"demo_num_users must be at least 10, got {n_users}.")
    n_users = int(n_users)
    n_items = int(n_items) if n_items else default_n_items(n_users)
    if n_items < 10:
        raise ConfigError(f"the demo dataset needs at least 10 games, got n_items={n_items}.")
    mean_count = (
        float(interactions_per_user) if interactions_per_user else default_interactions_per_user(n_items)
    )
    started = time.perf_counter()
    say(
        f"Generating the demo dataset: {plural(n_users, 'player')}, {plural(n_items, 'game')}, "
        f"~{mean_count:.0f} games per player (seed {seed})"
    )
    rng = np.random.default_rng(seed)
    items = _make_items(rng, n_items)
    users = _make_users(rng, n_users)

    segment_affinity = _segment_affinity(items).astype(np.float32)
    cluster_centres = rng.normal(size=(N_CLUSTERS, LATENT_DIM))
    cluster_centres /= np.linalg.norm(cluster_centres, axis=1, keepdims=True)
    cluster_affinity = (LATENT_STRENGTH * cluster_centres @ items["latent"].T).astype(np.float32)
    n_segments = len(segment_affinity)
    cdf = _cdf_table(np.vstack([segment_affinity, cluster_affinity]) + items["log_pop"][None, :])
    components = np.column_stack([users["segment"], n_segments + users["clusters"]])
    weights = np.column_stack(
        [users["segment_weight"], (1 - users["segment_weight"])[:, None] * users["cluster_share"]]
    )
    cumulative_weights = np.cumsum(weights, axis=1)[:, :-1]
    # Rating scale: standardise the affinities with constants of the whole table (not of a chunk).
    seg_mean, seg_sd = float(segment_affinity.mean()), float(segment_affinity.std())
    clu_sd = float(cluster_affinity.std())

    sigma = 1.0
    mu = np.log(max(mean_count - 3.0, 1.0)) - sigma**2 / 2
    counts = np.minimum(3 + np.round(rng.lognormal(mu, sigma, n_users)), max(3, n_items // 2)).astype(
        np.int64
    )
    # Each player is active for an exponential time (fraction of the year), placed within 2023
    # (slightly more players later: a growing platform).
    duration = np.clip(rng.exponential(0.3, n_users), 2.0 / 365, 1.0)
    start = rng.beta(1.3, 1.0, n_users) * (1.0 - duration)

    # Chunks of players: the first-draw table stays <= 64 MB and a chunk holds ~2M draws.
    chunk_users = max(1, min(2**24 // n_items, 65_535, int(2_000_000 / (1.3 * mean_count + 5))))
    first_seen = np.full(min(chunk_users, n_users) * n_items, _UNSEEN, dtype=np.int32)
    parts: dict[str, list] = {"user": [], "game": [], "score": [], "when": []}
    shortfall = 0
    for lo in range(0, n_users, chunk_users):  # loop per chunk of players
        hi = min(n_users, lo + chunk_users)
        user, game, short = _distinct_draws(
            rng,
            counts[lo:hi],
            components[lo:hi],
            cumulative_weights[lo:hi],
            cdf,
            first_seen,
            start[lo:hi] + duration[lo:hi],
            items["release"],
        )
        user = user.astype(np.int64) + lo
        shortfall += short

        taste = 0.6 * (segment_affinity[users["segment"][user], game] - seg_mean) / seg_sd
        share = users["cluster_share"][user]
        latent = sum(
            share[:, j] * cluster_affinity[users["clusters"][user, j], game] for j in range(CLUSTERS_PER_USER)
        )
        taste += 0.8 * latent / clu_sd
        rating = (
            3.1
            + users["bias"][user]
            + items["quality"][game]
            + 0.55 * taste
            + rng.normal(0.0, 0.75, len(user))
        )
        stars = np.clip(np.rint(rating), 1, 5)
        # Hours played: the same liking, on a heavy-tailed scale (log-normal: a few games are
        # played for hundreds of hours, most for a few); drawn in both modes, so that the rating
        # and the hours variants hold the same interactions.
        hours = np.maximum(
            np.round(np.exp(1.6 + 0.9 * (rating - 3.1) + rng.normal(0.0, 1.0, len(user))), 1), 0.1
        )
        # Taste drift: games near the player's second latent cluster come later in their window
        # (tastes move), so recent interactions predict the future better than old ones.
        drift = (
            cluster_affinity[users["clusters"][user, 1], game]
            - cluster_affinity[users["clusters"][user, 0], game]
        ) / clu_sd
        position = rng.random(len(user))
        position = 1.0 / (
            1.0 + np.exp(-(np.log(position / (1.0 - position + 1e-12) + 1e-12) + DRIFT_STRENGTH * drift))
        )
        fraction = start[user] + duration[user] * position
        # A game released during the player's window is played after its release, still within
        # the window: new games are young in a time-based split (few training interactions), so
        # their features (genres, difficulty, price) are much of what describes them.
        release = items["release"][game]
        window_end = start[user] + duration[user]
        early = fraction < release
        released_at = np.where(early, release, 0.0)  # finite (old games have release -inf)
        fraction = np.where(early, released_at + (window_end - released_at) * rng.random(len(user)), fraction)
        when = YEAR_START + np.round(YEAR * fraction)
        for name, values in (
            ("user", user.astype(np.int32)),
            ("game", game.astype(np.int32)),
            ("score", (stars if score_kind == "rating" else hours).astype(np.float64)),
            ("when", when),
        ):
            parts[name].append(values)
    columns = {name: np.concatenate(parts.pop(name)) for name in list(parts)}  # one column at a time
    interactions = pl.DataFrame(
        {
            USER: users["ids"].gather(columns.pop("user")),
            ITEM: pl.Series(items["ids"][columns.pop("game")], dtype=pl.Int64),
            SCORE: pl.Series(columns.pop("score"), dtype=pl.Float64),
            TIMESTAMP: pl.Series(columns.pop("when"), dtype=pl.Float64),
        }
    )

    age = pl.Series("age", users["age"], dtype=pl.Int64)
    user_features = pl.DataFrame(
        {
            "id": users["ids"],
            "age": age.set(pl.Series(users["age_missing"]), None) if users["age_missing"].any() else age,
            "country": pl.Series(np.array(COUNTRIES)[users["country"]]),
            "platform": pl.Series(np.array(PLATFORMS)[users["platform"]]),
        }
    )
    item_features = pl.DataFrame(
        {
            "id": pl.Series(items["ids"], dtype=pl.Int64),
            "genres": _genre_strings(items["multi_hot"]),
            "difficulty": pl.Series(np.array(DIFFICULTIES)[items["difficulty"]]),
            "price": pl.Series(np.where(items["price_missing"], np.nan, items["price"])).fill_nan(None),
        }
    )
    elapsed = time.perf_counter() - started
    say(
        f"  generated {plural(interactions.height, 'interaction')} in {elapsed:.1f}s"
        + (f" ({shortfall:,} fewer than planned: some players' draws repeated games)" if shortfall else "")
    )
    scored_by = "" if score_kind == "rating" else ", scores: hours played"
    source = f"demo dataset ({n_users:,} players, {n_items:,} games, seed {seed}{scored_by})"
    return RawData(interactions, user_features, item_features, source=source)


def _genre_strings(multi_hot: np.ndarray) -> pl.Series:
    """'Action|RPG' per game (genres in fixed order); NO_GENRES where a game has none."""
    rows, cols = np.nonzero(multi_hot)
    long = pl.DataFrame({"row": rows, "genre": np.array(GENRES)[cols]})
    joined = long.group_by("row", maintain_order=True).agg(pl.col("genre").str.join("|"))
    full = pl.DataFrame({"row": np.arange(len(multi_hot), dtype=rows.dtype)}).join(
        joined, on="row", how="left", maintain_order="left"
    )
    return full["genre"].fill_null(NO_GENRES).alias("genres")


def write_demo_files(folder: str | Path, n_users: int = 3000, seed: int = 0) -> dict[str, Path]:
    """Write interactions.csv, users.csv and items.csv (atomically) for the CSV loading path.

    Columns: interactions.csv user,item,score,timestamp (integer scores and Unix seconds);
    users.csv user,age,country,platform; items.csv item,genres,difficulty,price. The id column
    names match the config defaults (user_features_id_column='user', item_features_id_column='item').
    """
    raw = generate_demo(n_users=n_users, seed=seed)
    # generate_demo always builds both feature tables.
    assert raw.user_features is not None and raw.item_features is not None
    folder = Path(folder)
    tables = {
        "interactions": raw.interactions.with_columns(
            pl.col(SCORE).cast(pl.Int64), pl.col(TIMESTAMP).cast(pl.Int64)
        ),
        "users": raw.user_features.rename({"id": USER}),
        "items": raw.item_features.rename({"id": ITEM}),
    }
    paths = {}
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        with atomic_path(path) as tmp:
            frame.write_csv(tmp)
        paths[name] = path
    say(f"  wrote {', '.join(str(p) for p in paths.values())}")
    return paths
