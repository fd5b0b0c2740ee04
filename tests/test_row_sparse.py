"""The row-sparse training step on JAX: LazyAdam's row updates are Adam's, its catch-up is what
dense Adam does to idle rows, and training through it learns as well as Keras' dense step."""

import keras
import numpy as np
import pytest
from planted import community_interactions

from recsys.data.splitting import split_interactions
from recsys.eval.evaluation import evaluate
from recsys.eval.popular import MostPopular
from recsys.eval.validation import evaluate_model
from recsys.model import row_sparse
from recsys.model.training import build_model, fit

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the row-sparse step is JAX's")


def two_optimizers(rows=6, dim=4, start=0):
    """A table for dense Adam and a copy for LazyAdam (same start, constant learning rate), both
    optimizers at step `start`."""
    initial = np.random.default_rng(0).normal(size=(rows, dim)).astype("float32")
    dense_table = keras.Variable(initial.copy(), name="dense")
    lazy_table = keras.Variable(initial.copy(), name="lazy")
    dense, lazy = keras.optimizers.Adam(0.01), row_sparse.LazyAdam(0.01, tables=[lazy_table.path])
    dense.build([dense_table])
    lazy.build([lazy_table])
    dense.iterations.assign(start)
    lazy.iterations.assign(start)
    return dense_table, lazy_table, dense, lazy


def lazy_step(optimizer, table, rows, gradient):
    optimizer.update_rows(table, np.asarray(rows, "int32"), gradient)
    optimizer.iterations.assign_add(1)


@pytest.mark.parametrize("rows", [50, 2**27])  # the packed-key sort, and jnp.unique for big tables
@pytest.mark.parametrize("shape", [(64,), (16, 5)])
def test_unique_rows_are_jnp_unique_padded_with_the_table_size(rows, shape):
    import jax.numpy as jnp

    ids = np.random.default_rng(rows).integers(0, min(rows, 40), size=shape).astype("int32")
    ids.flat[-1] = rows - 1  # the largest id packs into the top bits
    unique, inverse = row_sparse._unique_rows(jnp.asarray(ids), rows)
    expected = np.unique(ids)
    assert np.array_equal(np.asarray(unique)[: len(expected)], expected)
    assert np.all(np.asarray(unique)[len(expected) :] == rows)
    assert np.asarray(inverse).shape == shape
    assert np.array_equal(np.asarray(unique)[np.asarray(inverse)], ids)


def test_row_updates_are_adams_when_every_row_is_looked_up():
    dense_table, lazy_table, dense, lazy = two_optimizers()
    rng = np.random.default_rng(1)
    for _ in range(3):
        gradient = rng.normal(size=(6, 4)).astype("float32")
        dense.apply([gradient], [dense_table])
        lazy_step(lazy, lazy_table, np.arange(6), gradient)
    np.testing.assert_allclose(lazy_table.numpy(), dense_table.numpy(), rtol=1e-6, atol=1e-6)


def test_idle_rows_catch_up_with_dense_adam():
    """Row 0 is looked up every step, the others once: dense Adam keeps moving them on their
    momentum. After `catch_up` (and at row 0's every look-up) the lazy table matches. Past step
    100,000 Adam's bias corrections are ~1, so the closed form's constant step size is exact."""
    dense_table, lazy_table, dense, lazy = two_optimizers(start=100_000)
    rng = np.random.default_rng(2)
    gradient = rng.normal(size=(6, 4)).astype("float32")
    dense.apply([gradient], [dense_table])
    lazy_step(lazy, lazy_table, np.arange(6), gradient)
    for _ in range(40):
        row = rng.normal(size=(1, 4)).astype("float32")
        dense.apply([np.concatenate([row, np.zeros((5, 4), "float32")])], [dense_table])
        # index 6 is padding (past the table): its garbage gradient must land nowhere
        lazy_step(lazy, lazy_table, [0, 6], np.concatenate([row, np.full((1, 4), 9.0, "float32")]))
    np.testing.assert_allclose(lazy_table.numpy()[0], dense_table.numpy()[0], rtol=1e-4, atol=1e-5)
    assert not np.allclose(lazy_table.numpy()[1:], dense_table.numpy()[1:], rtol=1e-3, atol=1e-5)
    lazy.catch_up()  # the idle rows moved ~0.3 each; float32 rounding over 41 steps is ~1e-6
    np.testing.assert_allclose(lazy_table.numpy(), dense_table.numpy(), rtol=1e-4, atol=1e-5)


def test_fit_takes_the_row_sparse_step_and_learns_as_well_as_dense_adam():
    from test_training import small_config

    data, _, _ = community_interactions(seed=4)
    results = {}
    for sparse in (True, False):
        config = small_config(sparse_table_updates=sparse, max_epochs=5)
        split = split_interactions(data, config)
        model = build_model(config, data.n_users, data.n_items, None, None, split.train)
        fit(model, split.train, config, epochs=5, log_epochs=False)
        assert row_sparse.applies(model) == sparse
        if sparse:  # every table row was brought up to the last step by the epoch-end catch-up
            steps = int(model.optimizer.iterations.numpy())
            for last_step in model.optimizer._last_steps.values():
                assert set(np.unique(last_step.numpy())) == {steps}
        results[sparse] = evaluate_model(
            model, split.train.user_item_matrix(), split.validation.user_item_matrix(), [10]
        )
    train_matrix = split.train.user_item_matrix()
    popular = evaluate(
        MostPopular().fit(train_matrix).scorer(), train_matrix, split.validation.user_item_matrix(), [10]
    )
    assert results[True]["Recall@10"] > popular["Recall@10"] + 0.1, (results, popular)
    assert abs(results[True]["Recall@10"] - results[False]["Recall@10"]) < 0.05, results


@pytest.mark.parametrize("change", [{"embedding_l2": 1e-4}, {"loss": "full_softmax"}])
def test_whole_table_l2_and_the_full_softmax_keep_keras_dense_step(change):
    from test_training import small_config

    data, _, _ = community_interactions(seed=4)
    config = small_config(**change)
    model = build_model(config, data.n_users, data.n_items, None, None, data)
    fit(model, data, config, epochs=1, log_epochs=False)
    assert type(model.optimizer) is keras.optimizers.Adam and not row_sparse.applies(model)
