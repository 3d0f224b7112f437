import pytest


@pytest.fixture(params=[False, True], ids=["plain", "htmx"])
def htmx(request):
    """Run the test once as a plain request and once as an htmx request."""
    return request.param


@pytest.fixture
def mod_client(client, moderator):
    client.force_login(moderator)
    return client
