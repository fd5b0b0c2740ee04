"""Save -> load -> identical embeddings, vocabularies, seen items and config; a manifest that makes
every later edit of a bundle's files visible; weights without optimizer state."""

import json
import shutil

import h5py
import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from planted import community_interactions

from recsys.config import Config
from recsys.data.vocabulary import Vocabulary
from recsys.errors import ArtifactError
from recsys.layout import BundleFiles
from recsys.model.bundle import ModelBundle, load_bundle
from recsys.model.manifest import FORMAT_VERSION, verify_bundle, write_manifest
from recsys.model.towers import compute_embeddings
from recsys.model.training import build_model, fit

IDENTITY = {"data": {"interactions": 120, "users": 40, "items": 20, "sha256": "ab" * 16}, "config": "cd" * 8}


def tiny_bundle(seed: int = 0, n_users: int = 40, n_items: int = 20, embedding_dim: int = 4) -> ModelBundle:
    """An untrained bundle (weights differ by seed) over string user ids and integer item ids."""
    data, _, _ = community_interactions(n_users=n_users, n_items=n_items, per_user=3)
    config = Config(embedding_dim=embedding_dim, seed=seed)
    model = build_model(config, data.n_users, data.n_items, None, None, data)
    return ModelBundle(
        model=model,
        config=config,
        user_vocab=Vocabulary(pl.Series([f"u{i:03d}" for i in range(n_users)]), "user"),
        item_vocab=Vocabulary(pl.Series(list(range(100, 100 + n_items))), "item"),
        seen=data.user_item_matrix(),
        metrics={"best_epoch": 3, "identity": IDENTITY},
        history={"loss": [1.0, 0.5]},
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved tiny bundle and another of the same shapes (other weights); tests edit copies."""
    folder = tmp_path_factory.mktemp("bundles")
    tiny_bundle(0).save(folder / "a")
    tiny_bundle(1).save(folder / "b")
    return folder


@pytest.fixture
def bundle_copy(saved, tmp_path):
    shutil.copytree(saved / "a", tmp_path / "bundle")
    return tmp_path / "bundle"


def reseal(folder):
    """Rewrite the manifest for the files as they are now (a forger's move), keeping its counts."""
    manifest = json.loads((folder / BundleFiles.MANIFEST).read_text())
    write_manifest(folder, manifest["counts"], manifest["identity"])


def test_round_trip_gives_identical_embeddings(tmp_path):
    data, user_group, item_group = community_interactions(n_users=40, n_items=20, per_user=3)
    config = Config(embedding_dim=8, feature_hidden_dim=4)
    user_features = np.eye(4, dtype="float32")[user_group]
    model = build_model(config, data.n_users, data.n_items, user_features, None, data)
    user_vocab = Vocabulary(pl.Series([f"u{i:03d}" for i in range(40)]), "user")
    item_vocab = Vocabulary(pl.Series(list(range(100, 120))), "item")
    bundle = ModelBundle(
        model=model,
        config=config,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        seen=data.user_item_matrix(),
        metrics={"best_epoch": 3},
        history={"loss": [1.0, 0.5]},
    )
    bundle.save(tmp_path / "bundle")
    loaded = load_bundle(tmp_path / "bundle")
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(model, which), compute_embeddings(loaded.model, which))
    assert loaded.user_vocab.to_python() == user_vocab.to_python()
    assert loaded.item_vocab.to_python() == list(range(100, 120))
    assert (loaded.seen != data.user_item_matrix()).nnz == 0
    assert (
        loaded.config == config and loaded.metrics["best_epoch"] == 3 and loaded.history["loss"] == [1.0, 0.5]
    )
    # saving again replaces the folder whole, leaving no temporary folders behind (.lock: the folder's lock)
    bundle.save(tmp_path / "bundle")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "bundle"]


def test_manifest_lists_every_file_with_size_and_hash_counts_and_identity(bundle_copy):
    manifest = json.loads((bundle_copy / BundleFiles.MANIFEST).read_text())
    files = manifest["files"]
    on_disk = {p.name for p in bundle_copy.iterdir()} - {BundleFiles.MANIFEST}
    assert set(files) == on_disk
    for name, entry in files.items():
        assert entry["bytes"] == (bundle_copy / name).stat().st_size and len(entry["sha256"]) == 64
        assert entry["required"] == (name not in ("metrics.json", "history.csv"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["counts"] == {"users": 40, "items": 20, "seen_nnz": 120, "embedding_dim": 4}
    assert manifest["identity"] == IDENTITY
    assert verify_bundle(bundle_copy) == manifest == load_bundle(bundle_copy).manifest


def test_a_format_1_bundle_with_num_users_keys_loads_to_the_same_embeddings(bundle_copy, saved):
    """Bundles saved before counts were named n_* (format 1: num_users, num_items) still load."""
    spec_path = bundle_copy / BundleFiles.SPEC
    spec = json.loads(spec_path.read_text())
    spec["num_users"], spec["num_items"] = spec.pop("n_users"), spec.pop("n_items")
    spec["task"]["config"]["num_items"] = spec["task"]["config"].pop("n_items")
    spec_path.write_text(json.dumps(spec))
    reseal(bundle_copy)
    manifest = json.loads((bundle_copy / BundleFiles.MANIFEST).read_text())
    (bundle_copy / BundleFiles.MANIFEST).write_text(json.dumps({**manifest, "format_version": 1}))
    old, new = load_bundle(bundle_copy), load_bundle(saved / "a")
    assert old.model.n_users == new.model.n_users == 40
    np.testing.assert_array_equal(old.embeddings("item"), new.embeddings("item"))


def test_weights_hold_no_optimizer_state_and_reload_to_identical_embeddings(tmp_path):
    data, _, _ = community_interactions(n_users=40, n_items=20, per_user=3)
    config = Config(embedding_dim=4, max_epochs=1, verbosity=0)
    model = build_model(config, data.n_users, data.n_items, None, None, data)
    fit(model, data, config, epochs=1)
    assert model.optimizer is not None and model.optimizer.variables  # Adam state exists in memory
    vocab = Vocabulary(pl.Series(list(range(40))), "user"), Vocabulary(pl.Series(list(range(20))), "item")
    ModelBundle(
        model=model, config=config, user_vocab=vocab[0], item_vocab=vocab[1], seen=data.user_item_matrix()
    ).save(tmp_path / "bundle")
    with h5py.File(tmp_path / "bundle" / BundleFiles.WEIGHTS, "r") as weights:
        groups: list[str] = []
        weights.visit(groups.append)
    assert groups and not [g for g in groups if g.split("/")[0] == "optimizer"]
    model.save_weights(str(tmp_path / "with_optimizer.weights.h5"))  # what save_weights alone writes
    assert (tmp_path / "bundle" / BundleFiles.WEIGHTS).stat().st_size < (
        tmp_path / "with_optimizer.weights.h5"
    ).stat().st_size
    loaded = load_bundle(tmp_path / "bundle")
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(model, which), compute_embeddings(loaded.model, which))


# Each edit of a saved bundle, and the file its refusal must name.
def _reverse_user_vocab(folder, other):
    ids = pl.read_parquet(folder / "user_vocab.parquet")["id"]
    pl.DataFrame([ids.reverse()]).write_parquet(folder / "user_vocab.parquet")


def _swap_vocabularies(folder, other):
    user, item = folder / "user_vocab.parquet", folder / "item_vocab.parquet"
    user_bytes = user.read_bytes()
    user.write_bytes(item.read_bytes())
    item.write_bytes(user_bytes)


def _weights_of_another_bundle(folder, other):
    shutil.copyfile(other / BundleFiles.WEIGHTS, folder / BundleFiles.WEIGHTS)


def _zero_seen(folder, other):
    shape = sp.load_npz(folder / "seen.npz").shape
    sp.save_npz(folder / "seen.npz", sp.csr_matrix(shape, dtype=np.float32))


EDITS = {
    "reversed user vocabulary": (_reverse_user_vocab, "user_vocab.parquet"),
    "swapped vocabularies": (_swap_vocabularies, "user_vocab.parquet"),
    "weights of another bundle": (_weights_of_another_bundle, BundleFiles.WEIGHTS),
    "zeroed seen.npz": (_zero_seen, "seen.npz"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_file_is_refused_by_name(saved, bundle_copy, edit):
    change, name = EDITS[edit]
    change(bundle_copy, saved / "b")
    with pytest.raises(ArtifactError) as refusal:
        load_bundle(bundle_copy)
    message = str(refusal.value)
    assert message.startswith(f"{bundle_copy / name} was changed after the bundle was written")
    assert message.endswith("; retrain or restore it.") and "\n" not in message


@pytest.mark.parametrize(
    "edit, expected",
    [
        ("reversed user vocabulary", r"user_vocab.parquet is not in sorted order \('u039' before 'u038'"),
        ("swapped vocabularies", r"user_vocab.parquet holds 20 users but the model .* has 40"),
        ("zeroed seen.npz", r"manifest.json records seen_nnz 120 \(files: 0\)"),
    ],
)
def test_resealed_edits_are_still_refused(saved, bundle_copy, edit, expected):
    """A manifest rewritten to match the edited files (hashes) still holds the counts, and the
    vocabularies and matrix must still fit the model."""
    EDITS[edit][0](bundle_copy, saved / "b")
    reseal(bundle_copy)
    with pytest.raises(ArtifactError, match=expected):
        load_bundle(bundle_copy)


def test_a_repeated_id_or_a_mismatched_seen_matrix_is_refused(bundle_copy):
    ids = pl.read_parquet(bundle_copy / "user_vocab.parquet")["id"].to_list()
    pl.DataFrame({"id": [*ids[:5], ids[4], *ids[6:]]}).write_parquet(bundle_copy / "user_vocab.parquet")
    reseal(bundle_copy)
    with pytest.raises(ArtifactError, match="user_vocab.parquet repeats the user id 'u004'"):
        load_bundle(bundle_copy)
    pl.DataFrame({"id": ids}).write_parquet(bundle_copy / "user_vocab.parquet")
    sp.save_npz(bundle_copy / "seen.npz", sp.csr_matrix((40, 21), dtype=np.float32))
    reseal(bundle_copy)
    with pytest.raises(ArtifactError, match=r"seen.npz is 40 x 21 but the model has 40 users x 20 items"):
        load_bundle(bundle_copy)


def test_weights_that_do_not_fit_the_model_are_refused(bundle_copy, tmp_path):
    tiny_bundle(0, embedding_dim=8).save(tmp_path / "wider")
    shutil.copyfile(tmp_path / "wider" / BundleFiles.WEIGHTS, bundle_copy / BundleFiles.WEIGHTS)
    reseal(bundle_copy)
    with pytest.raises(ArtifactError, match=f"{BundleFiles.WEIGHTS} does not fit the model") as refusal:
        load_bundle(bundle_copy)
    assert "\n" not in str(refusal.value)


def test_a_missing_file_an_added_encoder_or_a_missing_or_broken_manifest_is_refused(bundle_copy):
    (bundle_copy / "seen.npz").rename(bundle_copy / "seen.npz.away")
    with pytest.raises(ArtifactError, match=r"seen.npz is missing; retrain or restore it.$"):
        load_bundle(bundle_copy)
    (bundle_copy / "seen.npz.away").rename(bundle_copy / "seen.npz")
    (bundle_copy / "user_features.json").write_text("{}")
    with pytest.raises(ArtifactError, match="user_features.json is not in manifest.json"):
        load_bundle(bundle_copy)
    (bundle_copy / "user_features.json").unlink()
    (bundle_copy / BundleFiles.MANIFEST).write_text('{"format": ')
    with pytest.raises(ArtifactError, match="manifest.json is unreadable or not JSON"):
        load_bundle(bundle_copy)
    (bundle_copy / BundleFiles.MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="has no manifest.json .* retrain"):
        load_bundle(bundle_copy)


def test_metrics_and_history_are_optional_on_load(bundle_copy, capsys):
    (bundle_copy / "metrics.json").write_text("not json")
    (bundle_copy / "history.csv").unlink()
    loaded = load_bundle(bundle_copy)
    assert loaded.metrics == {} and loaded.history == {}
    err = capsys.readouterr().err
    assert "metrics.json was changed after the bundle was written" in err and "history.csv is missing" in err
    (bundle_copy / "metrics.json").unlink()
    assert load_bundle(bundle_copy).metrics == {}


def test_an_inconsistent_bundle_is_not_saved(tmp_path):
    bundle = tiny_bundle(0)
    bundle.item_vocab = Vocabulary(pl.Series(list(range(100, 119)) + [118]), "item")
    with pytest.raises(ArtifactError, match="cannot save .*: its item_vocab.parquet repeats the item id 118"):
        bundle.save(tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_missing_bundle_says_what_to_run(tmp_path):
    with pytest.raises(ArtifactError, match="train_production_model"):
        load_bundle(tmp_path / "nothing")


def test_recommend_and_similar_items_by_external_id():
    from recsys.serve.recommender import Recommender

    data, _, _ = community_interactions(n_users=40, n_items=20, per_user=3)
    config = Config(embedding_dim=8)
    model = build_model(config, data.n_users, data.n_items, None, None, data)
    bundle = ModelBundle(
        model=model,
        config=config,
        user_vocab=Vocabulary(pl.Series([f"u{i:03d}" for i in range(40)]), "user"),
        item_vocab=Vocabulary(pl.Series(list(range(100, 120))), "item"),
        seen=data.user_item_matrix(),
    )
    recommender = Recommender(bundle)
    users, items = bundle.embeddings("user"), bundle.embeddings("item")
    recommended = recommender.recommend("u005", n=5).items[0]
    seen = set(data.user_item_matrix()[5].indices + 100)
    scores = users[5] @ items.T
    expected = [i + 100 for i in np.argsort(-scores) if i + 100 not in seen][:5]
    assert recommended == expected
    similar = recommender.similar_items(103, n=4).items[0]
    assert 103 not in similar and len(similar) == 4
    assert recommender.recommend("nobody").fallback == [True]
