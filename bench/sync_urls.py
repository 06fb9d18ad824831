"""The sync baseline's URLs: what plain sync Django under gunicorn serves for
the benchmarked requests. Same models, same selectors and query shape (run by
the sync ORM), same schema and renderer, so the bodies are byte-identical to
the project's (bench/run.py checks that before measuring). Not part of the
product's URLs."""

from django.http import Http404, HttpResponse
from django.urls import path

from catalog.views import product_list
from config import urls as project_urls
from config.api import ORJSONRenderer
from movies import selectors
from movies.schemas import MovieOut, MoviePageOut, movie_detail_dict, movie_dicts

_renderer = ORJSONRenderer()


def _json(request, schema, data) -> HttpResponse:
    body = _renderer.render(request, schema.model_validate(data).model_dump(), response_status=200)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def movie_list(request):
    """The project's list, with the same three querysets run by the sync ORM."""
    try:
        limit = int(request.GET.get("limit", 10))
        offset = int(request.GET.get("offset", 0))
    except ValueError:
        return HttpResponse(status=422)
    limit, offset = min(max(limit, 1), 100), max(offset, 0)
    movies = selectors.movie_rows()
    shown = movies[offset : offset + limit]
    genre_rows = selectors.movie_genre_rows(shown.values("id"))
    page = {"items": movie_dicts(list(shown), list(genre_rows)), "count": movies.count()}
    return _json(request, MoviePageOut, page)


def movie_detail(request, movie_id: int):
    rows = list(selectors.movie_row(movie_id))
    if not rows:
        raise Http404
    return _json(request, MovieOut, movie_detail_dict(rows))


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
