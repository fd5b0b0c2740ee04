"""Known-answer data: users and items in communities; users interact only inside their own."""

import numpy as np

from recsys.data.interactions import Interactions


def community_interactions(n_users=240, n_items=120, n_groups=4, per_user=12, seed=0, popular_noise=0.0):
    """Each user picks `per_user` distinct items of their group's items (popular ones more often)."""
    rng = np.random.default_rng(seed)
    user_group = np.arange(n_users) % n_groups
    item_group = np.arange(n_items) % n_groups
    users, items = [], []
    weights = 1.0 / np.arange(1, n_items // n_groups + 1)  # long tail inside each group
    for g in range(n_groups):
        group_items = np.flatnonzero(item_group == g)
        members = np.flatnonzero(user_group == g)
        # Gumbel-top-k: per_user distinct items per member, popularity-weighted
        keys = np.log(weights)[None, :] + rng.gumbel(size=(len(members), len(group_items)))
        picks = np.argsort(-keys, axis=1)[:, :per_user]
        users.append(np.repeat(members, per_user))
        items.append(group_items[picks].ravel())
    users, items = np.concatenate(users).astype(np.int32), np.concatenate(items).astype(np.int32)
    times = rng.random(len(users))
    return Interactions(users, items, n_users, n_items, timestamps=times), user_group, item_group
