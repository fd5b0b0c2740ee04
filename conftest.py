"""Doctests (`python -m pytest` runs every `Example:` of `recsys/`): each runs in a temporary folder
of its own with the project's messages quiet, so examples that write files never touch the
checkout and show only what they mean to show."""

import pytest

from recsys.log import messages_at


@pytest.fixture(autouse=True)
def _doctests_in_a_temporary_folder(request, tmp_path_factory, monkeypatch):
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    monkeypatch.chdir(tmp_path_factory.mktemp("doctest"))
    with messages_at(0):
        yield
