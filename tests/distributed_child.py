"""Child process for tests/test_distribution.py (not a test module): trains on 4 virtual CPU
devices, which JAX must be told of before it starts (hence a process of its own).

    python tests/distributed_child.py BUNDLE_DIR

For each `distribution` setting, a validation run on a small demo, with the id and with the
history user tower; then a model-parallel
`Recommender.fit`, saved to BUNDLE_DIR. Prints one JSON object: the devices, each mode's best
validation metrics and sharding of the user id table, and the saved model's recommendations.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ["KERAS_BACKEND"] = "jax"

SETTINGS = dict(demo_num_users=400, embedding_dim=32, max_epochs=6, batch_size=256, verbosity=0)
USERS = ["player_00001", "player_00002", "player_00003"]


def main(bundle_dir: str) -> None:
    import jax

    from recsys.config import Config
    from recsys.data.experiment import Experiment, load_raw_data
    from recsys.errors import ConfigError
    from recsys.eval.validation import fit_on_split
    from recsys.model.distribution import make_distribution
    from recsys.serve.recommender import Recommender

    result: dict = {"devices": len(jax.devices()), "runs": {}}
    try:
        make_distribution(Config(distribution="data_parallel", batch_size=1022))
    except ConfigError as error:
        result["odd_batch_error"] = str(error)
    experiment = Experiment(Config(**SETTINGS))
    for mode in ("none", "data_parallel", "model_parallel"):
        run = fit_on_split(experiment, experiment.config.replace(distribution=mode), log_epochs=False)
        table = run.model.user_encoder.id_embedding.embeddings.value
        result["runs"][mode] = {
            "metrics": run.best_metrics,
            "table_rows": int(table.shape[0]),
            "shards": len({shard.device for shard in table.addressable_shards}),
            "sharded_rows": int(table.addressable_shards[0].data.shape[0]),
        }
    for mode in ("none", "data_parallel"):  # the history user tower likewise
        history = experiment.config.replace(distribution=mode, user_tower="history", history_length=20)
        run = fit_on_split(experiment, history, log_epochs=False)
        result["runs"][f"history {mode}"] = {"metrics": run.best_metrics}
    config = Config(**SETTINGS, distribution="model_parallel", production_epochs=3)
    raw = load_raw_data(config)
    model = Recommender.fit(raw.interactions, raw.user_features, raw.item_features, config=config)
    model.save(bundle_dir)
    answer = model.recommend(USERS, n=5)
    result["recommendations"] = {"users": USERS, "items": answer.items, "scores": answer.scores}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
