import argparse

from django.core.management.base import BaseCommand, CommandError

from movies.management.progress import ProgressBar
from movies.seeding import movie_seed

# The generated rows are held in memory before insertion.
MAX_COUNT = 1_000_000


class Command(BaseCommand):
    help = (
        "Insert N deterministic synthetic movies for load tests (same --seed, same "
        "movies); a rerun with the same seed skips the movies it already made."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many movies.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Progress bar on stderr (default: when stderr is a terminal).",
        )

    def handle(self, *args, count, seed, progress, **options):
        if not 0 < count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}.")
        bar = ProgressBar(self.stderr, label="Seeding", enabled=progress)
        try:
            result = movie_seed(count=count, seed=seed, on_progress=bar.update)
        finally:
            bar.finish()
        self.stdout.write(
            f"Created {result.created} movies (seed {seed}); "
            f"{result.existing} already present, skipped."
        )
