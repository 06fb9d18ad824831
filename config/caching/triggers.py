"""The database triggers that stamp the tracked tables (``TableStamp``).

Triggers rather than Django signals, so every write counts: ``save()``,
``queryset.update()``, ``bulk_create``, cascades, many-to-many changes, the
admin, management commands and raw SQL alike. A stamp commits (or rolls back)
with the change that made it.

- PostgreSQL: one statement-level trigger per table (``AFTER INSERT OR UPDATE
  OR DELETE OR TRUNCATE``) calls one function, which adds one stamp per
  transaction and table (a transaction-local setting remembers the tables
  already stamped) and deletes the older stamps that no other transaction
  has locked (``SKIP LOCKED``): no writer ever waits for another's stamp.
- SQLite (row-level triggers only): each changed row replaces the table's
  stamp. SQLite runs one write transaction at a time, so nobody waits.

They are installed from ``post_migrate``, idempotently, so ``migrate`` covers
a new model and the test databases get them (a flush sends ``post_migrate``
too).
"""

from collections.abc import Iterable
from functools import cache

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from config.caching.models import TableStamp

# The apps whose tables are stamped: those the public API reads.
TRACKED_APPS = ("movies", "catalog")

STAMP_TABLE = TableStamp._meta.db_table
PG_FUNCTION = "caching_stamp_table"
TRIGGER_PREFIX = "caching_stamp"


@cache
def tracked_tables(app_label: str) -> tuple[str, ...]:
    """The tables of ``app_label``'s models, many-to-many tables included."""
    models = global_apps.get_app_config(app_label).get_models(include_auto_created=True)
    return tuple(
        sorted({m._meta.db_table for m in models if m._meta.managed and not m._meta.proxy})
    )


def _pg_function() -> str:
    # The setting holds " table " for each table stamped in this
    # transaction; set_config(..., true) forgets it at the end of the
    # transaction, and at a rollback to a savepoint with the stamp itself.
    return f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamped text := coalesce(current_setting('caching.stamped', true), '');
BEGIN
    IF position(' ' || TG_TABLE_NAME || ' ' IN stamped) > 0 THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('caching.stamped', stamped || ' ' || TG_TABLE_NAME || ' ', true);
    DELETE FROM {STAMP_TABLE} WHERE id IN (
        SELECT id FROM {STAMP_TABLE} WHERE table_name = TG_TABLE_NAME FOR UPDATE SKIP LOCKED
    );
    INSERT INTO {STAMP_TABLE} (table_name) VALUES (TG_TABLE_NAME);
    RETURN NULL;
END
$$"""  # noqa: S608 (names from the models, never from input)


def _pg_install(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(_pg_function())
        for table in tables:
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {TRIGGER_PREFIX} "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {quote(table)} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
            )


def _pg_remove(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX} ON {quote(table)}")


def _sqlite_triggers(table: str) -> dict[str, str]:
    """Name -> CREATE statement, as SQLite keeps it in sqlite_master."""
    # Table names come from the models, never from input; quoted anyway.
    literal = "'" + table.replace("'", "''") + "'"
    triggers = {}
    for event in ("INSERT", "UPDATE", "DELETE"):
        name = f"{TRIGGER_PREFIX}_{table}_{event.lower()}"
        triggers[name] = (
            f'CREATE TRIGGER "{name}" AFTER {event} ON "{table}" BEGIN '  # noqa: S608
            f"DELETE FROM {STAMP_TABLE} WHERE table_name = {literal}; "
            f"INSERT INTO {STAMP_TABLE} (table_name) VALUES ({literal}); "
            "END"
        )
    return triggers


def _sqlite_existing(connection: BaseDatabaseWrapper) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
            [f"{TRIGGER_PREFIX}_%"],
        )
        return dict(cursor.fetchall())


def _sqlite_install(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> None:
    existing = _sqlite_existing(connection)
    with connection.cursor() as cursor:
        for table in tables:
            for name, sql in _sqlite_triggers(table).items():
                if existing.get(name) != sql:
                    cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
                    cursor.execute(sql)


def _sqlite_remove(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            for name in _sqlite_triggers(table):
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def install(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create or refresh the triggers on every tracked table that exists.
    Without the stamp table (``migrate caching zero``) they are removed
    instead, so that writes keep working."""
    connection = connections[using]
    if connection.vendor not in {"postgresql", "sqlite"}:
        raise NotImplementedError(
            f"config.caching has triggers for PostgreSQL and SQLite, not {connection.vendor}."
        )
    existing = set(connection.introspection.table_names())
    tables = [
        table for label in TRACKED_APPS for table in tracked_tables(label) if table in existing
    ]
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(using=using):
        if STAMP_TABLE not in existing:
            (_pg_remove if postgresql else _sqlite_remove)(connection, tables)
        else:
            (_pg_install if postgresql else _sqlite_install)(connection, tables)


def install_after_migrate(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: replicas get the triggers by replication."""
    if router.allow_migrate_model(using, TableStamp):
        install(using)
