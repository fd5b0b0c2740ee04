"""Config: typed and checked on creation, typos are errors, overrides are typed, round-trips are
exact, the README's table and the template's config.py agree with the defaults."""

import dataclasses
import math
import runpy
from pathlib import Path

import pytest

from recsys import settings_table
from recsys.config import (
    FEATURE_TYPES,
    LOSSES,
    OUTPUT_FORMATS,
    Config,
    choices,
    field_docs,
)
from recsys.config_loading import apply_overrides, load_config
from recsys.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_every_field_is_documented():
    docs = field_docs()
    assert all(len(doc) > 10 for doc in docs.values())
    assert "Choices: softmax, full_softmax, bce, bpr, mse." in docs["loss"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"embedding_dim": "64"}, "config 'embedding_dim' is '64' (str); expected a valid integer"),
        ({"top_n": 5.5}, "config 'top_n' is 5.5 (float); expected a valid integer"),
        ({"top_n": "ten"}, "config 'top_n' is 'ten' (str); expected a valid integer"),
        ({"use_user_features": "no"}, "config 'use_user_features' is 'no' (str); expected a valid boolean"),
        ({"embedding_dim": True}, "config 'embedding_dim' is True (bool); expected a valid integer"),
        ({"learning_rate": "0.01"}, "config 'learning_rate' is '0.01' (str); expected a valid number"),
        ({"learning_rate": math.nan}, "config 'learning_rate' is nan (float); expected a finite number"),
        ({"temperature": math.inf}, "config 'temperature' is inf (float); expected a finite number"),
        ({"learning_rate": 0.0}, "config 'learning_rate' is 0.0 (float); expected greater than 0"),
        ({"embedding_dim": 0}, "config 'embedding_dim' is 0 (int); expected greater than or equal to 1"),
        (
            {"per_user_val_fraction": 1.5},
            "config 'per_user_val_fraction' is 1.5 (float); expected less than 1",
        ),
        (
            {"loss": "hinge"},
            "config 'loss' is 'hinge' (str); expected 'softmax', 'full_softmax', 'bce', 'bpr' or 'mse'",
        ),
        ({"seed": -1}, "config 'seed' is -1 (int); expected greater than or equal to 0"),
        ({"num_negatives": -1}, "config 'num_negatives' is -1 (int); expected greater than or equal to 1"),
        ({"embedding_l2": -5}, "config 'embedding_l2' is -5 (int); expected greater than or equal to 0"),
        ({"feature_types": "x"}, "config 'feature_types' is 'x' (str); expected a valid dictionary"),
        (
            {"feature_types": {"age": "numerical"}},
            "config 'feature_types'['age'] is 'numerical' (str); expected",
        ),
        ({"metrics_k": [10, "20"]}, "config 'metrics_k'[1] is '20' (str); expected a valid integer"),
        ({"metrics_k": []}, "config 'metrics_k' is [] (list)"),
        ({"score_column": 3}, "config 'score_column' is 3 (int)"),
        ({"verbosity": 3}, "config 'verbosity' is 3 (int); expected less than or equal to 2"),
        ({"csv_separator": "::"}, "config 'csv_separator' is '::' (str); expected at most 1 character"),
        ({"csv_separator": ""}, "config 'csv_separator' is '' (str); expected at least 1 character"),
        ({"csv_separator": '"'}, "config 'csv_separator' is '\"' (str); expected one single-byte character"),
        ({"item_column": "user"}, "config 'user_column' and 'item_column' both name the column 'user'"),
        ({"negative_scores": "keep"}, "config 'negative_scores' is 'keep' (str); expected 'drop' or 'error'"),
        ({"timestamp_format": "mdY"}, "config 'timestamp_format' is 'mdY' (str); expected a strftime format"),
        ({"monitor_metric": "AUC@5"}, "unknown metric 'AUC@5'"),
        ({"monitor_metric": "NDCG@50"}, "but 50 is not in metrics_k [10, 20]"),
    ],
)
def test_types_choices_and_ranges_are_checked_on_creation(changes, message):
    with pytest.raises(ConfigError) as error:
        Config(**changes)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_int_is_a_valid_float_and_is_stored_as_one():
    config = Config(learning_rate=1, recency_weighting=0)
    assert isinstance(config.learning_rate, float) and isinstance(config.recency_weighting, float)


def test_choice_lists_have_one_source():
    assert choices("loss") == LOSSES and choices("recommendations_format") == OUTPUT_FORMATS
    from recsys.data import features
    from recsys.serve import outputs as recommend

    assert (features.CATEGORICAL, features.NUMERIC, features.MULTI) == FEATURE_TYPES
    assert not hasattr(recommend, "FORMATS")


def test_load_template_config_and_typo(tmp_path):
    good = tmp_path / "config.py"
    good.write_text("import os\nembedding_dim = 32\n_private = 1\ndef helper():\n    pass\n")
    assert load_config(good).embedding_dim == 32
    bad = tmp_path / "bad.py"
    bad.write_text("embeding_dim = 32\n")
    with pytest.raises(ConfigError, match="unknown setting 'embeding_dim'; did you mean 'embedding_dim'\\?$"):
        load_config(bad)
    far = tmp_path / "far.py"
    far.write_text("colour = 3\nembeding_dim = 32\n")
    with pytest.raises(
        ConfigError, match="unknown settings 'colour', 'embeding_dim'; `python -m recsys config`"
    ):
        load_config(far)
    as_text = tmp_path / "as_text.py"
    as_text.write_text("embedding_dim = '64'\n")
    with pytest.raises(ConfigError, match="'embedding_dim' is '64' \\(str\\); expected a valid integer"):
        load_config(as_text)
    wrong_type = tmp_path / "wrong.py"
    wrong_type.write_text("use_user_features = 'no'\n")
    with pytest.raises(ConfigError, match="'use_user_features' is 'no'"):
        load_config(wrong_type)


def test_overrides_are_typed():
    config = apply_overrides(
        Config(),
        [
            "embedding_dim=64",
            "learning_rate=0.01",
            "use_user_features=false",
            "score_column=2020",
            "metrics_k=[5, 10]",
            "monitor_metric=NDCG@10",
            "production_epochs=none",
        ],
    )
    assert config.embedding_dim == 64 and config.learning_rate == 0.01 and config.use_user_features is False
    assert config.score_column == "2020" and config.metrics_k == [5, 10] and config.production_epochs is None
    with pytest.raises(ConfigError, match="cannot read 'abc'; expected int >= 1"):
        apply_overrides(Config(), ["embedding_dim=abc"])
    with pytest.raises(ConfigError, match="'embedding_dim' is 6.5"):
        apply_overrides(Config(), ["embedding_dim=6.5"])
    with pytest.raises(ConfigError, match="'learning_rate' is inf"):
        apply_overrides(Config(), ["learning_rate=Infinity"])
    with pytest.raises(ConfigError, match="'maybe' is not a boolean"):
        apply_overrides(Config(), ["use_user_features=maybe"])
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        apply_overrides(Config(), ["nope=1"])


def test_json_round_trip(tmp_path):
    config = Config(embedding_dim=16, feature_types={"genres": "multi_categorical"})
    config.save(tmp_path / "c.json")
    assert Config.load_json(tmp_path / "c.json") == config


def test_fingerprint_ignores_output_settings_only():
    base = Config()
    assert base.fingerprint() == Config(top_n=5, output_dir="elsewhere", verbosity=0).fingerprint()
    assert base.fingerprint() != Config(embedding_dim=64).fingerprint()
    assert base.fingerprint() != Config(min_interactions_per_user=2).fingerprint()


def test_readme_settings_table_matches_config():
    readme = (ROOT / "README.md").read_text()
    assert settings_table.replace_table(readme, settings_table.markdown_table()) == readme, (
        "README settings table is stale: run python -m recsys.settings_table"
    )
    assert "| `early_stopping_patience` | int >= 1 | `15` |" in readme


def test_template_config_shows_the_settings_for_own_files_at_their_defaults():
    values = {k: v for k, v in runpy.run_path(str(ROOT / "config.py")).items() if not k.startswith("_")}
    defaults = Config().to_dict()
    assert {k: defaults[k] for k in values} == values  # the template changes no default
    needed = {
        "raw_data_fpath",
        "user_column",
        "item_column",
        "score_column",
        "timestamp_column",
        "csv_separator",
        "user_features_fpath",
        "user_features_id_column",
        "item_features_fpath",
        "item_features_id_column",
        "feature_types",
        "multi_value_separator",
        "min_interactions_per_user",
        "min_interactions_per_item",
    }
    assert needed <= set(values)
    assert set(values) <= {f.name for f in dataclasses.fields(Config)}
