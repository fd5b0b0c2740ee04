"""Config: defaults validate, typos are errors, overrides are typed, round-trips are exact."""

import pytest

from recsys.config import Config, apply_overrides, field_docs, load_config
from recsys.errors import ConfigError


def test_every_field_is_documented():
    docs = field_docs()
    assert all(len(doc) > 10 for doc in docs.values())
    assert "Choices: softmax, bce, bpr, mse." in docs["loss"]


def test_load_template_config_and_typo(tmp_path):
    good = tmp_path / "config.py"
    good.write_text("import os\nembedding_dim = 32\n_private = 1\ndef helper():\n    pass\n")
    assert load_config(good).embedding_dim == 32
    bad = tmp_path / "bad.py"
    bad.write_text("embeding_dim = 32\n")
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) embeding_dim"):
        load_config(bad)


def test_overrides_are_typed():
    config = apply_overrides(Config(), ["embedding_dim=64", "learning_rate=0.01", "use_user_features=false",
                                        "score_column=rating", "metrics_k=[5, 10]", "production_epochs=none"])
    assert config.embedding_dim == 64 and config.learning_rate == 0.01 and config.use_user_features is False
    assert config.score_column == "rating" and config.metrics_k == [5, 10] and config.production_epochs is None
    with pytest.raises(ConfigError, match="cannot read 'abc'"):
        apply_overrides(Config(), ["embedding_dim=abc"])
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        apply_overrides(Config(), ["nope=1"])


def test_choices_and_ranges_are_checked():
    with pytest.raises(ConfigError, match="'loss' is 'hinge'"):
        Config(loss="hinge").validate()
    with pytest.raises(ConfigError, match="per_user_val_fraction"):
        Config(per_user_val_fraction=1.5).validate()
    with pytest.raises(ConfigError, match="unknown metric"):
        Config(monitor_metric="AUC@5").validate()


def test_json_round_trip(tmp_path):
    config = Config(embedding_dim=16, feature_types={"genres": "multi_categorical"})
    config.save(tmp_path / "c.json")
    assert Config.load_json(tmp_path / "c.json") == config
