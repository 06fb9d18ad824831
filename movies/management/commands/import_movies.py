import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from movies.importing import ImportFileError, movie_import, read_movie_file
from movies.management.progress import ProgressBar

# Files with at least this many rows get a progress bar (unless --no-progress).
PROGRESS_THRESHOLD = 1000


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Import movies from a CSV or JSON file, upserting by title and release date: "
        "a second run of the same file changes nothing. Bad rows are reported with "
        "their line number and skipped; a fatal error writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["csv", "json"], help="Default: from the file's extension."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Import nothing if any row is bad.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"Progress bar on stderr (default: for files of {PROGRESS_THRESHOLD}+ rows).",
        )

    def handle(self, *args, file, format, strict, dry_run, progress, **options):
        try:
            records, errors = read_movie_file(file, format)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        for error in errors:
            self.stderr.write(f"{file}: {error}")
        if strict and errors:
            raise CommandError(f"{len(errors)} bad row(s); nothing imported (--strict).")

        bar = ProgressBar(
            self.stderr,
            label="Importing",
            enabled=progress if progress is not None else len(records) >= PROGRESS_THRESHOLD,
        )
        try:
            with transaction.atomic():
                result = movie_import(records=records, on_progress=bar.update)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        finally:
            bar.finish()
        result.skipped = len(errors)
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        summary = (
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, skipped {result.skipped}."
        )
        self.stdout.write(prefix + (summary if dry_run else summary.capitalize()))
