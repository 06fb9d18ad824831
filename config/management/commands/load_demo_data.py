from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Fixtures that make up the demo data, in load order. Loading is idempotent:
# fixtures carry primary keys, so a second run updates rows in place.
DEMO_FIXTURES = ["movies", "catalog_demo"]


class Command(BaseCommand):
    help = "Load the demo data (the classic films and a small catalog); safe to rerun."

    def handle(self, *args, **options):
        for fixture in DEMO_FIXTURES:
            try:
                call_command("loaddata", fixture, verbosity=0)
            except CommandError as exc:
                if "No fixture named" not in str(exc):
                    raise
                self.stdout.write(f"No {fixture!r} fixture; skipped.")
                continue
            self.stdout.write(f"Loaded {fixture}.")
