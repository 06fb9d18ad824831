"""import_movies and seed_movies as an operator runs them."""

import json
import shutil
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from movies import importing
from movies.models import Genre, Movie, Person
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db

# A verbatim copy of the seed project's fixture (mymoviedb), kept with the tests.
SEED_FILE = Path(__file__).parent / "data" / "seed-movies.json"


@pytest.fixture
def seed_file(tmp_path):
    """The seed project's movies, as published (flat genre strings, "HH:MM:SS"
    durations, director names, one misspelt)."""
    return Path(shutil.copy(SEED_FILE, tmp_path / "seed-movies.json"))


def run(*args, **options):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot():
    return sorted(
        (
            m.title,
            m.release_date,
            m.rating,
            m.duration,
            m.director.name if m.director else None,
            tuple(sorted(g.slug for g in m.genres.all())),
            m.slug,
            m.updated,
        )
        for m in Movie.objects.select_related("director").prefetch_related("genres")
    )


# import_movies ----------------------------------------------------------------


def test_imports_the_seed_file_and_normalises_genres(seed_file):
    out, err = run("import_movies", str(seed_file))
    assert out.strip() == "Created 11, updated 0, unchanged 0, skipped 0."
    assert err == ""
    assert Movie.objects.count() == 11
    # "Action, Crime" and "Crime,Drama" become rows, whatever the spacing.
    assert sorted(Genre.objects.values_list("name", flat=True)) == [
        "Action",
        "Adventure",
        "Crime",
        "Drama",
        "History",
        "Sci-fi",
        "Western",
    ]
    knight = Movie.objects.get(title="The Dark Knight")
    assert sorted(knight.genres.values_list("slug", flat=True)) == ["action", "crime"]
    assert knight.duration == timedelta(hours=2, minutes=32)
    assert knight.director.name == "Christopher Nolan"
    assert knight.slug == "the-dark-knight"
    # One person per distinct name: Coppola directed two of them.
    assert Person.objects.count() == 10
    assert Person.objects.get(name="Francis Ford Coppola").directed_movies.count() == 2


def test_a_second_run_changes_nothing(seed_file):
    run("import_movies", str(seed_file))
    before = snapshot()
    out, _ = run("import_movies", str(seed_file))
    assert out.strip() == "Created 0, updated 0, unchanged 11, skipped 0."
    assert snapshot() == before
    assert Person.objects.count() == 10
    assert Genre.objects.count() == 7


MATRIX_DIFFERS = (
    "line 2: The Matrix (1999-03-31): running time 2:16:00 → 2:19:00; "
    "director 'Lana Wachowski' → 'Lana Wachoski'"
)


def test_importing_the_seed_over_the_fixture_keeps_its_corrections(classics, seed_file):
    """The database's corrections win unless --update: The Matrix keeps the
    fixture's director and running time, the difference is listed, and no
    misspelt person is made. Genres match by slug ("Sci-fi" is "Sci-Fi")."""
    before = snapshot()
    people = Person.objects.count()
    out, err = run("import_movies", str(seed_file))
    assert out.splitlines() == [
        f"{seed_file}: kept, differs from the file: {MATRIX_DIFFERS}",
        "Created 0, updated 0, unchanged 10, kept 1 that differs (--update overwrites), skipped 0.",
    ]
    assert err == ""
    assert snapshot() == before
    assert Person.objects.count() == people
    assert Genre.objects.count() == 7


def test_update_takes_the_file_s_values_and_lists_them_with_v2(classics, seed_file):
    out, err = run("import_movies", str(seed_file), "--update", verbosity=2)
    assert out.splitlines() == [
        f"{seed_file}: updated {MATRIX_DIFFERS}",
        "Created 0, updated 1, unchanged 10, skipped 0.",
    ]
    # The new name is a person of its own; the likely misspelling is named.
    assert err.strip() == (
        f"{seed_file}: warning: line 2: director 'Lana Wachoski' is new, added as a person "
        "of its own; did you mean 'Lana Wachowski'?"
    )
    matrix = Movie.objects.get(slug="the-matrix")
    assert matrix.director.name == "Lana Wachoski"
    assert matrix.duration == timedelta(hours=2, minutes=19)
    assert sorted(matrix.genres.values_list("name", flat=True)) == ["Action", "Sci-Fi"]
    quiet, _ = run("import_movies", str(seed_file), "--update")
    assert quiet.strip() == "Created 0, updated 0, unchanged 11, skipped 0."


def test_a_changed_genre_list_is_reported_by_name(classics, tmp_path):
    path = write(
        tmp_path,
        "films.csv",
        "title,release_date,rating,duration,genres\nThe Godfather,1972-03-24,92,02:55:00,Drama\n",
    )
    out, _ = run("import_movies", str(path), "--update", verbosity=2)
    assert "genres Crime, Drama → Drama" in out
    godfather = Movie.objects.get(slug="the-godfather")
    assert list(godfather.genres.values_list("name", flat=True)) == ["Drama"]


CSV_WITH_BAD_ROWS = """\
Title,Release_Date,Rating,Duration,Director,Genre
Le Samouraï,1967-10-25,81,01:45:00,Jean-Pierre Melville,"Crime, Drama"
Bad Date,1967-13-45,81,01:45:00,Someone,Drama
Too Good,1999-01-01,101,01:45:00,Someone,Drama
Not A Number,1999-01-01,great,01:45:00,Someone,Drama
,1999-01-01,50,01:45:00,Someone,Drama
No Time,1999-01-01,50,00:00:00,Someone,Drama
Le Samouraï,1967-10-25,90,01:45:00,Jean-Pierre Melville,Crime
Too,Few,Columns
"Army of Shadows
(Director's cut)",1969-09-12,82,145,Jean-Pierre Melville,"War,Drama,"
Le Cercle Rouge,1970-10-20,80,140,,
"""


def test_bad_rows_are_reported_with_line_and_reason_and_skipped(tmp_path):
    path = write(tmp_path, "films.csv", CSV_WITH_BAD_ROWS)
    out, err = run("import_movies", str(path), "--allow-skipped")
    assert out.strip() == "Created 3, updated 0, unchanged 0, skipped 7."
    lines = err.strip().splitlines()
    assert lines == [
        f"{path}: line 3: release_date: '1967-13-45' is not a date (YYYY-MM-DD)",
        f"{path}: line 4: rating: 101 is outside 0–100",
        f"{path}: line 5: rating: 'great' is not a whole number",
        f"{path}: line 6: title: missing",
        f"{path}: line 7: duration: the running time must be positive",
        f"{path}: line 8: same title and release date as line 2",
        f"{path}: line 9: expected 6 values, found 3",
    ]
    samourai = Movie.objects.get(title="Le Samouraï")
    assert samourai.rating == 81
    assert sorted(samourai.genres.values_list("name", flat=True)) == ["Crime", "Drama"]
    # A quoted title over two lines, whole minutes, a trailing comma in genres.
    army = Movie.objects.get(release_date=date(1969, 9, 12))
    assert army.title == "Army of Shadows (Director's cut)"
    assert army.duration == timedelta(minutes=145)
    assert sorted(army.genres.values_list("name", flat=True)) == ["Drama", "War"]
    cercle = Movie.objects.get(title="Le Cercle Rouge")
    assert cercle.director is None
    assert not cercle.genres.exists()


def test_a_file_without_director_or_genre_columns_leaves_them_alone(classics, tmp_path):
    path = write(
        tmp_path,
        "ratings.csv",
        "title,release_date,rating,duration\nThe Godfather,1972-03-24,99,02:55:00\n",
    )
    out, _ = run("import_movies", str(path), "--update")
    assert out.strip() == "Created 0, updated 1, unchanged 0, skipped 0."
    godfather = Movie.objects.get(slug="the-godfather")
    assert godfather.rating == 99
    assert godfather.director.name == "Francis Ford Coppola"
    assert godfather.genres.count() == 2


def test_json_with_flat_objects_and_genre_lists(tmp_path):
    records = [
        {
            "title": "Stalker",
            "release_date": "1979-05-25",
            "rating": 81,
            "duration": "PT2H42M",
            "director": "Andrei Tarkovsky",
            "genres": ["Drama", "Sci-Fi"],
        },
        "not an object",
        {"title": "Solaris", "release_date": "1972-03-20", "rating": 80, "duration": 167},
    ]
    text = json.dumps(records, indent=2)
    bad_line = text.splitlines().index('  "not an object",') + 1
    path = write(tmp_path, "films.json", text)
    out, err = run("import_movies", str(path), "--allow-skipped")
    assert out.strip() == "Created 2, updated 0, unchanged 0, skipped 1."
    assert err.strip() == f"{path}: line {bad_line}: expected an object"
    stalker = Movie.objects.get(title="Stalker")
    assert stalker.duration == timedelta(hours=2, minutes=42)
    assert Movie.objects.get(title="Solaris").duration == timedelta(minutes=167)


def test_new_movies_get_a_free_slug(tmp_path):
    make_movie("The Matrix", slug="the-matrix", release_date=date(1999, 3, 31))
    path = write(
        tmp_path,
        "remake.csv",
        "title,release_date,rating,duration\nThe Matrix,2031-01-01,50,02:00:00\n",
    )
    run("import_movies", str(path))
    assert Movie.objects.get(release_date=date(2031, 1, 1)).slug == "the-matrix-2031"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("films.json", '[{"title": "A",\n "rating": }]', "Invalid JSON at line 2"),
        ("films.json", '{"title": "not a list"}', "Expected a JSON list"),
        ("films.json", "[{}] trailing", "unexpected data after the list"),
        ("films.csv", "title,rating\nA,50\n", "Missing required column(s): release_date, duration"),
        ("films.csv", "", "The file is empty"),
        ("films.txt", "whatever", "Unknown format 'txt'"),
    ],
)
def test_fatal_errors_write_nothing(classics, tmp_path, name, content, message):
    before = snapshot()
    path = write(tmp_path, name, content)
    with pytest.raises(CommandError) as excinfo:
        run("import_movies", str(path))
    assert message in str(excinfo.value)
    assert snapshot() == before


def test_missing_or_undecodable_file_is_fatal(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("import_movies", str(tmp_path / "nope.csv"))
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "title,release_date,rating,duration\nAm\xe9lie,2001-04-25,83,2:02:00\n".encode("latin-1")
    )
    with pytest.raises(CommandError) as excinfo:
        run("import_movies", str(path))
    assert str(excinfo.value) == (
        f"{path}: line 2 is not UTF-8 (byte 0xe9 at column 3): "
        "save the file as UTF-8 and import it again."
    )


def test_a_failure_midway_rolls_back_everything(classics, seed_file, monkeypatch):
    """Chunks of two rows: the first chunk is written, the second fails; the
    database must be as it was before the command."""
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    real_apply = importing._apply_chunk
    calls = []

    def apply_then_fail(records, *args):
        calls.append(len(records))
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        real_apply(records, *args)

    monkeypatch.setattr(importing, "_apply_chunk", apply_then_fail)
    Movie.objects.filter(slug="the-matrix").delete()
    before = snapshot()
    with pytest.raises(RuntimeError):
        run("import_movies", str(seed_file))
    assert snapshot() == before
    assert not Movie.objects.filter(title="The Matrix").exists()
    assert not Person.objects.filter(name="Lana Wachoski").exists()


def test_strict_imports_nothing_when_a_row_is_bad(tmp_path):
    path = write(tmp_path, "films.csv", CSV_WITH_BAD_ROWS)
    with pytest.raises(CommandError, match="7 bad row"):
        run("import_movies", str(path), "--strict")
    assert not Movie.objects.exists()


def test_dry_run_reports_and_writes_nothing(seed_file):
    out, _ = run("import_movies", str(seed_file), "--dry-run")
    assert out.strip() == (
        "Dry run, nothing written: would have created 11, updated 0, unchanged 0, skipped 0."
    )
    assert not Movie.objects.exists()
    assert not Person.objects.exists()


class Terminal(StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def run_on_terminal(*args):
    out, err = StringIO(), Terminal()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_progress_bar_on_a_terminal_for_large_files_only(tmp_path, seed_file):
    rows = "".join(f"Film {i},2000-01-01,50,01:30:00,Director {i % 7},Drama\n" for i in range(1200))
    large = write(
        tmp_path, "large.csv", "title,release_date,rating,duration,director,genres\n" + rows
    )
    out, err = run_on_terminal("import_movies", str(large))
    assert out.strip() == "Created 1200, updated 0, unchanged 0, skipped 0."
    assert "Importing" in err and "1200/1200" in err
    assert "\x1b[31;1m" not in err  # not Django's bold red error style
    _, small_err = run_on_terminal("import_movies", str(seed_file))
    assert small_err == ""
    _, forced = run("import_movies", str(seed_file), "--progress")
    assert "11/11" in forced


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    rows = "".join(f"Film {i},2000-01-01,50,01:30:00,,Drama\n" for i in range(1200))
    large = write(
        tmp_path, "large.csv", "title,release_date,rating,duration,director,genres\n" + rows
    )
    _, err = run("import_movies", str(large))
    assert err == ""


def test_skipped_rows_make_the_command_fail_after_importing_the_good_ones(tmp_path):
    path = write(tmp_path, "films.csv", CSV_WITH_BAD_ROWS)
    with pytest.raises(CommandError) as excinfo:
        run("import_movies", str(path))
    assert "7 bad row(s) skipped" in str(excinfo.value)
    assert "--allow-skipped" in str(excinfo.value)
    assert Movie.objects.count() == 3


def test_manage_py_exits_non_zero_when_rows_are_skipped(tmp_path):
    import os
    import subprocess
    import sys

    path = write(tmp_path, "films.csv", CSV_WITH_BAD_ROWS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    manage = [sys.executable, "manage.py"]
    cwd = Path(__file__).resolve().parents[2]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=cwd, env=env, check=True, timeout=120)
    result = subprocess.run(
        [*manage, "import_movies", str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Created 3, updated 0, unchanged 0, skipped 7." in result.stdout
    allowed = subprocess.run(
        [*manage, "import_movies", str(path), "--allow-skipped"],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert allowed.returncode == 0


def test_unknown_columns_are_named_in_a_warning(tmp_path):
    path = write(
        tmp_path,
        "films.csv",
        "title,release_date,rating,duration,Budget,notes\nStalker,1979-05-25,81,163,1M,x\n",
    )
    out, err = run("import_movies", str(path))
    assert err.strip() == f"{path}: warning: unknown column(s) ignored: budget, notes"
    assert out.strip() == "Created 1, updated 0, unchanged 0, skipped 0."


def test_unknown_json_keys_are_named_in_a_warning(tmp_path):
    text = json.dumps(
        [
            {
                "title": "Stalker",
                "release_date": "1979-05-25",
                "rating": 81,
                "duration": 163,
                "cast": [],
            }
        ]
    )
    _, err = run("import_movies", str(write(tmp_path, "films.json", text)))
    assert err.strip().endswith("warning: unknown key(s) ignored: cast")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(tmp_path, delimiter):
    header = delimiter.join(["title", "release_date", "rating", "duration", "director", "genres"])
    row = delimiter.join(
        ["Stalker", "1979-05-25", "81", "02:43:00", "Andrei Tarkovsky", "Drama, Sci-Fi"]
    )
    path = write(tmp_path, "films.csv", f"{header}\n{row}\n")
    out, err = run("import_movies", str(path))
    assert (out.strip(), err) == ("Created 1, updated 0, unchanged 0, skipped 0.", "")
    stalker = Movie.objects.get(title="Stalker")
    assert stalker.director.name == "Andrei Tarkovsky"
    assert sorted(stalker.genres.values_list("name", flat=True)) == ["Drama", "Sci-Fi"]


# seed_movies ------------------------------------------------------------------


def test_seed_movies_creates_complete_movies():
    out, _ = run("seed_movies", "--count", "40", "--seed", "7", "--no-progress")
    assert out.strip() == "Created 40 movies (seed 7); 0 already present, skipped."
    assert Movie.objects.count() == 40
    for movie in Movie.objects.prefetch_related("genres"):
        assert movie.director_id is not None
        assert 1 <= len(movie.genres.all()) <= 3
        assert 0 <= movie.rating <= 100
        assert movie.duration > timedelta(0)
        assert movie.slug.endswith(tuple(f"-s7-{n}" for n in range(40)))


def test_seed_movies_is_deterministic_and_rerunnable():
    def content():
        return [row[:6] for row in snapshot()]

    run("seed_movies", "--count", "30", "--seed", "3", "--no-progress")
    first = content()
    out, _ = run("seed_movies", "--count", "30", "--seed", "3", "--no-progress")
    assert out.strip() == "Created 0 movies (seed 3); 30 already present, skipped."
    assert content() == first
    Movie.objects.all().delete()
    run("seed_movies", "--count", "30", "--seed", "3", "--no-progress")
    assert content() == first
    Movie.objects.all().delete()
    run("seed_movies", "--count", "30", "--seed", "4", "--no-progress")
    assert content() != first


def test_seed_movies_reuses_existing_genres_and_adds_to_real_data(classics):
    run("seed_movies", "--count", "25", "--no-progress")
    assert Movie.objects.count() == 11 + 25
    assert Genre.objects.filter(slug="drama").count() == 1
    assert Genre.objects.filter(slug="sci-fi").count() == 1


def test_seed_movies_shows_progress_on_a_terminal_only():
    _, err = run_on_terminal("seed_movies", "--count", "5")
    assert "Seeding" in err and "5/5" in err
    _, piped = run("seed_movies", "--count", "5", "--seed", "2")
    assert piped == ""


@pytest.mark.parametrize("count", ["0", "-5"])
def test_seed_movies_refuses_a_count_that_is_not_positive(count):
    with pytest.raises(CommandError, match="--count"):
        run("seed_movies", "--count", count)
