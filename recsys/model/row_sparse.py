"""Row-sparse training on JAX: Adam updates only the id-table rows a batch looks up.

Why: the id tables hold almost all of a model's weights (users x dim + items x dim), yet a batch
of 1,024 positives looks up at most 1,024 users and 1,024 items. Keras' JAX trainer takes the
gradient with respect to every whole table (a dense scatter of the batch's rows into zeros) and
then runs Adam over every row, so each step reads and writes the tables, their gradients and both
Adam moments: on a 140,000-user catalogue at dim 256 that is most of the step's time.

This step (`train_step`, which `EmbeddingModel.train_step` hands over to) instead gathers the
unique rows the batch looks up, differentiates the loss with respect to those rows (the towers
take them as `user_rows` / `item_rows` inputs), and updates those rows only, with `LazyAdam`: Keras'
Adam in the same optimizer slots, plus each row's last update step, so that a row looked up again
first catches up, in closed form, on what dense Adam would have done to it while it sat idle.
The other trainable weights (the feature MLPs) get Keras' Adam as usual.

`recsys.model.training.fit` uses it when the backend is JAX, `config.sparse_table_updates` is on (the
default) and `embedding_l2` is 0 (a whole-table penalty has a whole-table gradient); otherwise,
and on TensorFlow and PyTorch, Keras' Adam and Keras' own step run. `benchmarks/training.py`
times both paths; `benchmarks/quality.py` measures the quality.
"""

from __future__ import annotations

import keras
from keras import ops

from recsys.model.sampling import batch_item_ids

__all__ = ["CatchUp", "LazyAdam", "applies", "make_optimizer", "table_variables", "train_step"]


@keras.saving.register_keras_serializable(package="recsys")
class LazyAdam(keras.optimizers.Adam):
    """Keras' Adam, whose id tables (`tables`: their variable paths) are updated lazily on JAX.

    Each table row also keeps the step it was last brought up to date at (`last_step`, an int32
    optimizer variable per table). When a batch looks a row up again after `k` idle steps, the row
    first gets, in closed form, what dense Adam would have done to it meanwhile (zero gradients:
    its moments decay by beta_1^k and beta_2^k, and it keeps moving on its momentum by
    alpha * m / (sqrt(v) + epsilon) * sum_j (beta_1 / sqrt(beta_2))^j, j = 1..k, the step size
    taken as constant over the gap), then the batch's own Adam update. `catch_up` does the same
    for every row (once per epoch, through the `CatchUp` callback), so at epoch ends the tables are
    where dense Adam would have put them, up to the step-size approximation. Without the catch-up,
    a row seen once moves about a tenth as far as under dense Adam (its momentum would carry it on
    for ~10 more steps), and training needs about twice the epochs.

    On other backends, or through Keras' own step, it is plain Adam (the tables updated densely).

    Example (what `recsys.model.training.fit` does on JAX, before `model.fit(..., callbacks=[CatchUp()])`):
        >>> from recsys.model.towers import EmbeddingModel
        >>> model = EmbeddingModel(n_users=5, n_items=7, embedding_dim=8)
        >>> model.build()
        >>> optimizer = LazyAdam(1e-3, tables=[v.path for v in table_variables(model).values()])
        >>> len(optimizer.tables)  # the user and the item id tables
        2
    """

    def __init__(self, learning_rate=0.001, tables=(), **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.tables = [str(path) for path in tables]

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._last_steps = {}
        for variable in variables:
            if variable.path in self.tables:
                self._last_steps[variable.path] = self.add_variable(
                    shape=(variable.shape[0],),
                    initializer="zeros",
                    dtype="int32",
                    name=f"{variable.name}_last_step",
                )

    def get_config(self):
        return {**super().get_config(), "tables": list(self.tables)}

    def _advance(self, variable, rows, step, gradient=None) -> None:
        """Bring `rows` of a table (all rows when None) up to `step`: the idle steps' decay and
        momentum in closed form, then (with `gradient`) Adam's update for `step` itself. Runs
        inside the training step's StatelessScope, or eagerly (`catch_up`)."""
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]
        last_step = self._last_steps[variable.path]
        dtype = variable.dtype

        def read(state):  # padding indices read zeros (so they move by 0) and their writes drop
            value = state.value
            return value if rows is None else value.at[rows].get(mode="fill", fill_value=0)

        def write(state, value, add=False):
            if rows is None:
                state.assign(state.value + value if add else value)
            else:
                at = state.value.at[rows]
                state.assign(at.add(value, mode="drop") if add else at.set(value, mode="drop"))

        learning_rate = ops.cast(self.learning_rate, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        step = ops.convert_to_tensor(step)
        now = ops.cast(ops.maximum(step, 1), dtype)  # no step yet: nothing moves (m = 0), no 0 / 0
        alpha = learning_rate * ops.sqrt(1 - ops.power(beta_2, now)) / (1 - ops.power(beta_1, now))
        m, v = read(momentum), read(velocity)
        idle = ops.cast(step - (1 if gradient is not None else 0) - read(last_step), dtype)
        idle = ops.expand_dims(ops.maximum(idle, 0), -1)
        ratio = beta_1 / ops.sqrt(beta_2)
        carried = ratio * (1 - ops.power(ratio, idle)) / (1 - ratio)  # sum of ratio^j, j = 1..idle
        delta = -alpha * carried * m / (ops.sqrt(v) + self.epsilon)
        m, v = m * ops.power(beta_1, idle), v * ops.power(beta_2, idle)
        if gradient is not None:
            m = m + (gradient - m) * (1 - beta_1)
            v = v + (ops.square(gradient) - v) * (1 - beta_2)
            delta = delta - alpha * m / (ops.sqrt(v) + self.epsilon)
        write(momentum, m)
        write(velocity, v)
        write(last_step, ops.full_like(read(last_step), step))
        write(variable, delta, add=True)

    def update_rows(self, variable, rows, gradient) -> None:
        """Adam's update of the looked-up `rows` of a table (out-of-range indices are padding,
        ignored), after catching them up on the steps they sat idle. Call before `apply` moves
        the step counter on."""
        self._advance(variable, rows, self.iterations + 1, gradient)

    def catch_up(self) -> None:
        """Bring every row of every table up to the current step (see the class docstring)."""
        variables = {variable.path: variable for variable in self._trainable_variables}
        for path in self.tables:
            self._advance(variables[path], None, self.iterations.value)


class CatchUp(keras.callbacks.Callback):
    """At each epoch end, bring the `LazyAdam` tables up to date, so that validation, checkpoints
    and the final model see every row where dense Adam would have left it. Put it first in the
    callback list."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if isinstance(optimizer, LazyAdam) and optimizer.built:
            optimizer.catch_up()


def table_variables(model) -> dict:
    """The id embedding tables of a two-tower model, by side ("user", "item")."""
    return {
        "user": model.user_encoder.id_embedding.embeddings,
        "item": model.item_encoder.id_embedding.embeddings,
    }


def _model_allows(model) -> bool:
    """What the model must be for the row-sparse step: on JAX, without a whole-table L2 penalty,
    with the id user tower (the history tower's encoder is dense), and with a task that scores only
    the batch's items (one that scores the whole catalogue trains every item row)."""
    return (
        keras.backend.backend() == "jax"
        and not model.embedding_l2
        and model.user_tower == "id"
        and not model.task.scores_catalogue
    )


def make_optimizer(model, learning_rate, sparse: bool) -> keras.optimizers.Adam:
    """The optimizer `recsys.model.training.fit` compiles with: `LazyAdam` over the model's tables when
    `sparse` and the row-sparse step can run (`_model_allows`), else Keras' Adam."""
    if sparse and _model_allows(model):
        return LazyAdam(learning_rate, tables=[v.path for v in table_variables(model).values()])
    return keras.optimizers.Adam(learning_rate)


def applies(model) -> bool:
    """Whether `model.fit` uses the row-sparse step: JAX, a `LazyAdam` over the model's tables
    (without weight decay, clipping, AMSGrad, gradient accumulation or EMA, which act on whole
    tables), no whole-table L2 penalty, and a task that does not score the whole catalogue (which
    trains every item row)."""
    optimizer = getattr(model, "optimizer", None)
    return (
        _model_allows(model)
        and isinstance(optimizer, LazyAdam)
        and set(optimizer.tables) == {v.path for v in table_variables(model).values()}
        and not (optimizer.weight_decay or optimizer.amsgrad or optimizer.use_ema)
        and not (optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm)
        and not optimizer.gradient_accumulation_steps
        and optimizer.loss_scale_factor is None
    )


def _unique_rows(ids, rows: int):
    """The distinct ids of a batch in ascending order (padded to the batch's size with `rows`, an
    index past the table that gathers zeros and whose updates are dropped) and each id's position
    among them: what `jnp.unique(..., size=, return_inverse=True)` returns, five times faster.

    Why: XLA's CPU sort of (id, position) pairs with a comparator took about 0.2 ms per side, 5 %
    of a dim-64 step. Here each id and its position are packed into one uint32 key (id in the high
    bits), which sorts as plain integers; tables too large to pack take `jnp.unique`."""
    import jax.numpy as jnp  # the row-sparse step runs on JAX only (an optional backend)

    flat = jnp.ravel(ids).astype("int32")
    size = flat.shape[0]
    shift = max(size - 1, 1).bit_length()
    if (rows + 1) << shift > 2**32:
        unique, inverse = jnp.unique(flat, size=size, fill_value=rows, return_inverse=True)
        return unique, jnp.reshape(inverse, ids.shape)
    keys = jnp.sort((flat.astype("uint32") << shift) | jnp.arange(size, dtype="uint32"))
    sorted_ids = (keys >> shift).astype("int32")
    positions = (keys & ((1 << shift) - 1)).astype("int32")
    first = jnp.concatenate([jnp.ones((1,), "bool"), sorted_ids[1:] != sorted_ids[:-1]])
    slot = jnp.cumsum(first.astype("int32")) - 1
    unique = jnp.full((size,), rows, "int32").at[slot].set(sorted_ids)
    inverse = jnp.zeros((size,), "int32").at[positions].set(slot)
    return unique, jnp.reshape(inverse, ids.shape)


def train_step(model, state, data):
    """Keras' JAX `train_step(state, data) -> (logs, state)` with row-sparse table updates (see
    the module docstring). Traced once by Keras' jitted train function, like its own step."""
    import jax  # the row-sparse step runs on JAX only (an optional backend)

    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    position = {id(variable): i for i, variable in enumerate(variables)}
    tables = {side: position[id(variable)] for side, variable in table_variables(model).items()}
    dense = [i for i in range(len(variables)) if i not in tables.values()]

    ids = {"user": x["user"], "item": batch_item_ids(x)}
    unique, inverse, gathered = {}, {}, {}
    for side, looked_up in ids.items():
        table = trainable[tables[side]]
        unique[side], inverse[side] = _unique_rows(looked_up, table.shape[0])
        gathered[side] = table.at[unique[side]].get(mode="fill", fill_value=0)

    def loss_of(rows, dense_values):
        values = list(trainable)
        for i, value in zip(dense, dense_values, strict=True):
            values[i] = value
        batch = {**x, **{f"{side}_rows": rows[side][inverse[side]] for side in rows}}
        return model.compute_loss_and_updates(
            values,
            non_trainable,
            metrics_values,
            batch,
            y,
            sample_weight,
            training=True,
            optimizer_variables=optimizer_values,
        )

    gradient_of = jax.value_and_grad(loss_of, argnums=(0, 1), has_aux=True)
    (_, aux), (row_gradients, dense_gradients) = gradient_of(gathered, [trainable[i] for i in dense])
    unscaled_loss, y_pred, non_trainable, metrics_values = aux

    optimizer = model.optimizer
    mapping = list(zip(variables, trainable, strict=True))
    mapping += list(zip(optimizer.variables, optimizer_values, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        for side, i in tables.items():  # before `apply`, which moves the step counter on
            optimizer.update_rows(variables[i], unique[side], row_gradients[side])
        if dense:
            optimizer.apply(dense_gradients, [variables[i] for i in dense])
        else:
            optimizer.iterations.assign_add(1)
    trainable = [scope.get_current_value(variable) for variable in variables]
    optimizer_values = [scope.get_current_value(variable) for variable in optimizer.variables]

    logs, metrics_values = model._update_metrics_variables(
        metrics_values, unscaled_loss, x, y, y_pred, sample_weight
    )
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)
