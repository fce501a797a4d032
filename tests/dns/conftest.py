import pytest

from tests.helpers import client_for


@pytest.fixture
def admin_client_for_dns(superadmin):
    return client_for(superadmin)
