import pytest
from django.core.management import call_command

from movies.models import Movie


@pytest.fixture
def classics(db):
    """The project's fixture: the eleven classic films."""
    call_command("loaddata", "movies", verbosity=0)
    return Movie.objects.order_by("pk")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The shared user fixtures set passwords; the default hasher costs a
    third of a second per user, which these tests do not need to pay."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
