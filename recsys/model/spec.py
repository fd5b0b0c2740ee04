"""A model's spec: the JSON-ready settings that rebuild an `EmbeddingModel` before its weights load.

`recsys.model.bundle` writes a spec beside the weights and `EmbeddingModel.get_config` returns one
for `.keras` files; this module holds what reads and writes the parts of a spec that are not plain
numbers: the retrieval task (`task_spec`, `resolve_task`), the user tower's kinds (`USER_TOWERS`),
and the renames of older saves (`upgrade_spec`).
"""

from __future__ import annotations

from recsys.errors import ArtifactError
from recsys.model.tasks import TASKS, InBatchSoftmax, RetrievalTask

__all__ = ["LEGACY_SPEC_KEYS", "USER_TOWERS", "resolve_task", "task_spec", "upgrade_spec"]


def resolve_task(task: RetrievalTask | dict | None, n_items: int) -> RetrievalTask:
    """The model's retrieval task: as given, rebuilt from its config (`task_spec`), or the default.

    The task is rebuilt by class name from `recsys.model.tasks.TASKS` rather than through
    `keras.saving.deserialize_keras_object`, which imports TensorFlow (when installed) on every
    backend just to check its types, filling the log with TensorFlow's start-up lines.

    Args:
        task: A task, its `task_spec`, or None (the in-batch softmax).
        n_items: The catalogue's size, for the default task.

    Returns:
        The task.

    Example:
        >>> task = resolve_task(task_spec(InBatchSoftmax(7)), n_items=7)
        >>> type(task).__name__, task.n_items
        ('InBatchSoftmax', 7)
    """
    if task is None:
        return InBatchSoftmax(n_items)
    if isinstance(task, dict):
        classes = {cls.__name__: cls for cls in TASKS.values()}
        name = str(task.get("class_name", "")).split(">")[-1]
        if name not in classes or not isinstance(task.get("config"), dict):
            raise ArtifactError(f"the model's task config names no known retrieval task: {task!r}.")
        known = ("n_items", "logq_correction", "num_negatives", "name")  # not Keras' whole layer config
        return classes[name](**{k: v for k, v in task["config"].items() if k in known})
    return task


USER_TOWERS = ("id", "history")  # what a built model's user tower is (the config adds "auto")

# Keys of the specs that bundles and `.keras` files of format version 1 hold (counts named num_*).
LEGACY_SPEC_KEYS = {"num_users": "n_users", "num_items": "n_items"}


def upgrade_spec(spec: dict) -> dict:
    """A model spec (or `get_config()`) with the keys of format-1 saves renamed to today's, so a
    bundle or `.keras` file saved before the rename loads unchanged.

    Args:
        spec: The spec as read from disk.

    Returns:
        A new dict with today's keys (the task's config too).

    Example:
        >>> upgrade_spec({"num_users": 3, "task": {"config": {"num_items": 5}}})
        {'n_users': 3, 'task': {'config': {'n_items': 5}}}
    """
    upgraded = {LEGACY_SPEC_KEYS.get(key, key): value for key, value in spec.items()}
    task = upgraded.get("task")
    if isinstance(task, dict) and isinstance(task.get("config"), dict):
        config = {LEGACY_SPEC_KEYS.get(key, key): value for key, value in task["config"].items()}
        upgraded["task"] = {**task, "config": config}
    return upgraded


def task_spec(task: RetrievalTask) -> dict:
    """A JSON-ready description of a task that `resolve_task` rebuilds.

    Args:
        task: The task.

    Returns:
        `{"class_name": ..., "config": {...}}`.

    Example:
        >>> task_spec(InBatchSoftmax(7))["class_name"]
        'InBatchSoftmax'
    """
    return {"class_name": type(task).__name__, "config": {**task.settings(), "name": task.name}}
