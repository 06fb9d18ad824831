"""The demo data: the classic films and a small catalog.

It never writes over a row that exists. A fixture object whose primary key
is taken is kept as the database has it (a product's stock after orders, a
film edited in the admin); one that would break a unique rule (a slug now
used by another row) is left out and named. ``--if-empty``, what ``make run``
uses, loads nothing at all unless every table the demo data fills is empty,
so deleting a demo product does not bring it back on the next start.
"""

from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction

# (app label, fixture file), in load order.
DEMO_FIXTURES = [("movies", "movies.json"), ("catalog", "catalog_demo.json")]


def fixture_paths() -> list[Path]:
    return [
        Path(apps.get_app_config(label).path) / "fixtures" / name for label, name in DEMO_FIXTURES
    ]


def demo_models() -> set[type]:
    models = set()
    for path in fixture_paths():
        with path.open(encoding="utf-8") as fixture:
            models |= {type(obj.object) for obj in serializers.deserialize("json", fixture)}
    return models


class Command(BaseCommand):
    help = (
        "Add the demo data (the classic films and a small catalog) without changing any "
        "existing row; --if-empty loads it only into a database without such data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load nothing unless the movie and catalog tables are all empty (make run).",
        )

    def handle(self, *args, if_empty, **options):
        if if_empty:
            filled = sorted(
                str(model._meta.verbose_name_plural)
                for model in demo_models()
                if model._default_manager.exists()
            )
            if filled:
                self.stdout.write(
                    f"Demo data not loaded: the database already has {', '.join(filled)} "
                    "(`make demo-data` adds the demo rows that are missing)."
                )
                return
        added, kept, refused = self.load()
        self.stdout.write(f"Demo data: added {added} rows, kept {kept} that exist.")
        for line in refused:
            self.stderr.write(f"Left out {line}")

    @transaction.atomic
    def load(self) -> tuple[int, int, list[str]]:
        added, kept, refused = 0, 0, []
        touched: set[type] = set()
        for path in fixture_paths():
            with path.open(encoding="utf-8") as fixture:
                for obj in serializers.deserialize("json", fixture):
                    model = type(obj.object)
                    if model._default_manager.filter(pk=obj.object.pk).exists():
                        kept += 1
                        continue
                    try:
                        with transaction.atomic():
                            obj.save()
                    except IntegrityError as exc:
                        refused.append(
                            f"{model._meta.verbose_name} {obj.object.pk} ({obj.object}): {exc}"
                        )
                        continue
                    added += 1
                    touched.add(model)
        if touched:
            # Rows came with their ids: move PostgreSQL's sequences past them,
            # as loaddata does.
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), list(touched)):
                    cursor.execute(sql)
        return added, kept, refused
