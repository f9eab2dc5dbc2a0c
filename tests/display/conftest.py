"""The ``documents`` fixture for the display tests."""

import pytest

from tests.display.documents import made_documents


@pytest.fixture(scope="module")
def documents():
    """The test documents (see ``made_documents``)."""
    return made_documents()
