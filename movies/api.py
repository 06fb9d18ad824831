"""Movies API: async handlers over the async ORM.

Reads are public. Writes need a bearer token whose user holds the matching
Django permission (movies.add_movie, change_movie, delete_movie): 401 without
a valid token, 403 without the permission. They run a sync, atomic service
through ``sync_to_async`` (transactions do not work in async code), so a
failed write leaves nothing behind.

Errors a client can fix:
- 422: validation (ninja's ``{"detail": [{"loc", "msg", "type"}, ...]}``), and
  genre slugs or a director id that do not exist, reported the same way at
  ``["body", "payload", "genres"]`` / ``["body", "payload", "director_id"]``.
  Writes never create genres or people: a typo would leave junk rows.
- 409: the title and release date, or the slug, belong to another movie.
- 404: no movie with that id.
"""

from typing import Any

from asgiref.sync import sync_to_async
from ninja import Path, Query, Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate

from config.access.tokens import require_perm, token_auth
from config.pagination import CursorPageIn, keyset_page
from config.runtime.native_db import evaluate
from config.schemas import MAX_ID, ErrorOut, links_from_id
from movies import selectors, services
from movies.models import Movie
from movies.schemas import (
    GenreOut,
    MovieCreateIn,
    MovieFilters,
    MovieOut,
    MoviePageOut,
    MoviePatchIn,
    MovieUpdateIn,
    PersonOut,
    SearchFilters,
    movie_dict,
)

router = Router(tags=["movies"])

_WRITE_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


async def _get_movie_or_404(movie_id: int) -> Movie:
    movie = await selectors.movie_detail().filter(pk=movie_id).afirst()
    if movie is None:
        raise HttpError(404, f"No movie with id {movie_id}.")
    return movie


async def _movie_out_or_404(movie_id: int) -> dict:
    (rows,), _ = await evaluate(selectors.movie_row(movie_id))
    if not rows:
        raise HttpError(404, f"No movie with id {movie_id}.")
    return movie_dict(rows[0])


def _unknown_references_error(exc: services.UnknownReferences) -> ValidationError:
    errors: list[dict[str, Any]] = []
    if exc.genres:
        errors.append(
            {
                "type": "unknown_genre",
                "loc": ["body", "payload", "genres"],
                "msg": f"Unknown genre slug(s): {', '.join(exc.genres)}.",
                "input": exc.genres,
            }
        )
    if exc.director is not None:
        errors.append(
            {
                "type": "unknown_director",
                "loc": ["body", "payload", "director_id"],
                "msg": f"No person with id {exc.director}.",
                "input": exc.director,
            }
        )
    return ValidationError(errors)


async def _write(service, **kwargs) -> dict:
    """Run a sync write service; map its domain errors to HTTP errors; return
    the movie re-read with its relations for the response."""
    try:
        movie = await sync_to_async(service)(**kwargs)
    except services.UnknownReferences as exc:
        raise _unknown_references_error(exc) from exc
    except services.MovieConflict as exc:
        raise HttpError(409, exc.message) from exc
    except Movie.DoesNotExist as exc:
        raise HttpError(404, "The movie was deleted meanwhile.") from exc
    return await _movie_out_or_404(movie.pk)


@router.get("/movies", response=MoviePageOut)
async def list_movies(request, filters: Query[MovieFilters], page: Query[CursorPageIn]):
    """Movies, filtered and ordered. `limit` (default 10, at most 100) and
    `offset` page through them, or `cursor`: a page's `next` or `previous`,
    for pages that stay put while movies are added (a cursor made for another
    ordering or list, altered, or sent with an offset is a 422).
    `count=false` leaves the total out. Unknown genre or director ids give an
    empty list. `year_min` greater than `year_max` is a 422 (a rule across
    two parameters, which the schema cannot state).

    The hottest endpoint: two queries of plain rows (the page, its genres
    aggregated in SQL, and the count) evaluated together, rather than
    ninja's @paginate over model instances."""
    movies = selectors.movie_rows(**filters.model_dump(exclude_none=True))
    shown = keyset_page(movies, page, list_name="movies")
    (rows,), count = await evaluate(shown.rows, count=shown.count)
    rows, links = shown.links(rows, count)
    return {"items": [movie_dict(row) for row in rows], "count": count, **links}


@router.get("/movies/{movie_id}", response={200: MovieOut, 404: ErrorOut})
async def get_movie(request, movie_id: int = Path(..., ge=1, le=MAX_ID)):
    return await _movie_out_or_404(movie_id)


@router.post(
    "/movies",
    response={201: MovieOut, **_WRITE_ERRORS},
    auth=token_auth,
    openapi_extra=links_from_id(
        "movie_id",
        "movies_api_get_movie",
        "movies_api_update_movie",
        "movies_api_partial_update_movie",
        "movies_api_delete_movie",
    ),
)
async def create_movie(request, payload: MovieCreateIn):
    """Create a movie (permission movies.add_movie). Unknown genre slugs or
    director id: 422 naming them; title and release date or slug taken: 409."""
    await require_perm(request, "movies.add_movie")
    movie = await _write(services.movie_create, **payload.model_dump())
    return Status(201, movie)


@router.put("/movies/{movie_id}", response={200: MovieOut, **_WRITE_ERRORS}, auth=token_auth)
async def update_movie(request, payload: MovieUpdateIn, movie_id: int = Path(..., ge=1, le=MAX_ID)):
    """Replace a movie (permission movies.change_movie). Omitted `director_id`
    and `genres` are cleared; an omitted `slug` is kept."""
    await require_perm(request, "movies.change_movie")
    movie = await _get_movie_or_404(movie_id)
    fields = payload.model_dump()
    if fields["slug"] is None:
        del fields["slug"]
    return await _write(services.movie_update, movie=movie, **fields)


@router.patch("/movies/{movie_id}", response={200: MovieOut, **_WRITE_ERRORS}, auth=token_auth)
async def partial_update_movie(
    request, payload: MoviePatchIn, movie_id: int = Path(..., ge=1, le=MAX_ID)
):
    """Change the fields sent (permission movies.change_movie);
    `"director_id": null` clears the director."""
    await require_perm(request, "movies.change_movie")
    movie = await _get_movie_or_404(movie_id)
    return await _write(
        services.movie_update, movie=movie, **payload.model_dump(exclude_unset=True)
    )


@router.delete("/movies/{movie_id}", response={204: None, **_WRITE_ERRORS}, auth=token_auth)
async def delete_movie(request, movie_id: int = Path(..., ge=1, le=MAX_ID)):
    """Delete a movie (permission movies.delete_movie)."""
    await require_perm(request, "movies.delete_movie")
    movie = await _get_movie_or_404(movie_id)
    await sync_to_async(services.movie_delete)(movie=movie)
    return Status(204, None)


@router.get("/genres", response=list[GenreOut])
@paginate
async def list_genres(request, filters: Query[SearchFilters]):
    """Genres by name; `q` searches the name."""
    return selectors.genre_list(q=filters.q)


@router.get("/people", response=list[PersonOut])
@paginate
async def list_people(request, filters: Query[SearchFilters]):
    """People by name; `q` searches the name. Their ids are what
    `director` filters and `director_id` fields take."""
    return selectors.person_list(q=filters.q)
