"""A GIN index for the full-text title search, on PostgreSQL only.

The index is not declared in Movie.Meta because GIN does not exist on SQLite;
it is created here when the database is PostgreSQL and is invisible to the
migration state. Its expression must stay identical to the one
movies.selectors.title_search_vector() builds, or the planner cannot use it
(tests/movies/test_selectors.py checks the plan on PostgreSQL).
"""

from django.db import migrations

INDEX_NAME = "movie_title_search_gin"


def _index():
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return GinIndex(SearchVector("title", config="english"), name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.add_index(apps.get_model("movies", "Movie"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_index(apps.get_model("movies", "Movie"), _index())


class Migration(migrations.Migration):
    dependencies = [("movies", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
