from __future__ import annotations

import pytest

from tests.support.einvoice_validation import Validators


@pytest.fixture(scope="session")
def validators() -> Validators:
    """The validation stylesheets, compiled once for the whole session (about a second each)."""
    return Validators()
