"""Fixtures for the limits' tests: the scenario's bytes and empty counters."""

import pytest
from django.core.cache import cache

from tests import automerge_node


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    return automerge_node.make_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(autouse=True)
def empty_counters():
    cache.clear()
    yield
    cache.clear()
