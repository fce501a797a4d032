"""The lab's fixtures live in tests/daemons/fixtures.py (loaded for every folder by tests/conftest.py)."""

from tests.daemons.fixtures import apply_now  # noqa: F401  (the tests import it from here)
