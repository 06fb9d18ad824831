"""The sync baseline's URLs: what plain sync Django under gunicorn serves for
the benchmarked requests. Same models, same selectors and query shape (run by
the sync ORM), same schema and renderer, so the bodies are byte-identical to
the project's (bench/run.py checks that before measuring). Not part of the
product's URLs."""

from django.http import Http404, HttpResponse
from django.urls import path
from ninja.errors import ValidationError as CursorError
from pydantic import ValidationError

from catalog.views import product_list
from config import urls as project_urls
from config.api import ORJSONRenderer
from config.pagination import CursorPageIn, keyset_page
from movies import selectors
from movies.schemas import MovieOut, MoviePageOut, movie_dict

_renderer = ORJSONRenderer()


def _json(request, schema, data) -> HttpResponse:
    body = _renderer.render(request, schema.model_validate(data).model_dump(), response_status=200)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def movie_list(request):
    """The project's list (movies.api.list_movies) with the same paging
    (config.pagination: limit/offset or a cursor, and its next/previous
    cursors) and the same two querysets, run by the sync ORM."""
    try:
        params = CursorPageIn.model_validate(request.GET.dict())
        shown = keyset_page(selectors.movie_rows(), params, list_name="movies")
    except (ValidationError, CursorError):
        return HttpResponse(status=422)
    rows = list(shown.rows)
    count = shown.count.count() if shown.count is not None else None
    rows, links = shown.links(rows, count)
    page = {"items": [movie_dict(row) for row in rows], "count": count, **links}
    return _json(request, MoviePageOut, page)


def movie_detail(request, movie_id: int):
    row = selectors.movie_row(movie_id).first()
    if row is None:
        raise Http404
    return _json(request, MovieOut, movie_dict(row))


def sync_healthz(request):
    return HttpResponse('{"status": "ok"}', content_type="application/json")


# The benchmarked URLs first; the project's own after them, so that pages
# can reverse their links (the products page is the project's own sync view).
urlpatterns = [
    path("healthz", sync_healthz),
    path("api/movies", movie_list),
    path("api/movies/<int:movie_id>", movie_detail),
    path("products/", product_list),
    *project_urls.urlpatterns,
]
