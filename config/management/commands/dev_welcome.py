"""What ``make run`` prints before it serves: where to go and how to sign in.

Development only: it refuses to run with debug off, so a production database
never gets the demo user."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Development only (DJANGO_DEBUG=1): create a demo superuser when the database "
        "has no user, and print the site's, the admin's and the API docs' addresses."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        if not settings.DEBUG:
            raise CommandError("dev_welcome is for development: it runs only with DJANGO_DEBUG=1.")
        base = f"http://{host}:{port}"
        database = connection.settings_dict["NAME"]
        self.stdout.write(
            f"Reel & Shelf in development (debug on, {connection.vendor} {database}):\n"
            f"  site      {base}/\n"
            f"  admin     {base}/admin/\n"
            f"  API docs  {base}/api/docs"
        )
        self.stdout.write(self.sign_in_hint())

    def sign_in_hint(self) -> str:
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(
                username=DEMO_USERNAME, email="demo@example.com", password=password
            )
            return (
                f"Created the demo superuser: sign in as {DEMO_USERNAME!r} with password "
                f"{password!r} (shown this once; "
                f"`.venv/bin/python manage.py changepassword {DEMO_USERNAME}` sets another)."
            )
        if User.objects.filter(username=DEMO_USERNAME).exists():
            return (
                f"Sign in as {DEMO_USERNAME!r} with the password printed when it was created, "
                f"or set one: `.venv/bin/python manage.py changepassword {DEMO_USERNAME}`."
            )
        return "Sign in with your user; `.venv/bin/python manage.py createsuperuser` makes another."
