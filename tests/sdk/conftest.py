"""Fixtures of the SDK conformance tests; what they share besides is in ``conformance.py``."""

import pytest

# Its helpers assert too: with pytest's messages (registered before the first import).
pytest.register_assert_rewrite("conformance")

from conformance import BASE, reset_emulator  # noqa: E402


@pytest.fixture(autouse=True)
def reset():
    """Every test starts from the seeded state."""
    reset_emulator(BASE)
