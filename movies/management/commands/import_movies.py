import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from movies.importing import ImportFileError, movie_import, read_movie_file
from movies.management.progress import ProgressBar

# Files with at least this many rows get a progress bar on a terminal
# (--progress/--no-progress to choose).
PROGRESS_THRESHOLD = 1000


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Import movies from a CSV or JSON file by title and release date: new movies are "
        "created; existing ones that differ are kept and listed, or overwritten with "
        "--update. A second run of the same file changes nothing. Bad rows are reported "
        "with their line number and skipped, and the command then exits with status 1 "
        "(--allow-skipped: 0); a fatal error writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["csv", "json"], help="Default: from the file's extension."
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite existing movies where the file differs (default: keep them).",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Import nothing if any row is bad.",
        )
        parser.add_argument(
            "--allow-skipped",
            action="store_true",
            help="Exit with status 0 even when bad rows were skipped.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"Progress bar on stderr (default: on a terminal, {PROGRESS_THRESHOLD}+ rows).",
        )

    def handle(
        self, *args, file, format, update, strict, allow_skipped, dry_run, progress, **options
    ):
        verbosity = options["verbosity"]
        try:
            records, errors, warnings = read_movie_file(file, format)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        for warning in warnings:
            self.stderr.write(f"{file}: warning: {warning}", style_func=self.style.WARNING)
        for error in errors:
            self.stderr.write(f"{file}: {error}")
        if strict and errors:
            raise CommandError(f"{len(errors)} bad row(s); nothing imported (--strict).")

        if progress is None and len(records) < PROGRESS_THRESHOLD:
            progress = False
        bar = ProgressBar(self.stderr, label="Importing", enabled=progress)
        try:
            with transaction.atomic():
                result = movie_import(records=records, update=update, on_progress=bar.update)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        finally:
            bar.finish()
        result.skipped = len(errors)
        for warning in result.warnings:
            self.stderr.write(f"{file}: warning: {warning}", style_func=self.style.WARNING)
        for change in result.changes:
            # What was kept is always listed: it is what the file says and the
            # database does not. What was written, with -v 2.
            if not change.applied:
                self.stdout.write(f"{file}: kept, differs from the file: {change}")
            elif verbosity >= 2:
                self.stdout.write(f"{file}: updated {change}")
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        summary = f"created {result.created}, updated {result.updated}, "
        summary += f"unchanged {result.unchanged}, "
        if result.kept:
            summary += f"kept {result.kept} that differ{'s' if result.kept == 1 else ''} "
            summary += "(--update overwrites), "
        summary += f"skipped {result.skipped}."
        self.stdout.write(prefix + (summary if dry_run else summary.capitalize()))
        if errors and not allow_skipped:
            raise CommandError(
                f"{len(errors)} bad row(s) skipped, listed above; the other rows were "
                f"{'checked' if dry_run else 'imported'}. --allow-skipped exits 0 all the same."
            )
