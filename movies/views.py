"""HTML pages: sync views over the same selectors as the API."""

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from config.text import without_nul
from movies import selectors

PAGE_SIZE = 20


class MovieSearchForm(forms.Form):
    """The list page's search box and genre filter. An invalid field is shown
    with its error rather than failing the page: an over-long query is left
    out of the filter, and a genre that does not exist matches no film (200
    and an empty list, as /api/movies?genre= answers)."""

    q = forms.CharField(label="Title", required=False, max_length=100)
    genre = forms.ModelChoiceField(
        label="Genre",
        queryset=selectors.genre_list(),
        to_field_name="slug",
        required=False,
        empty_label="All genres",
    )


def movie_list(request):
    form = MovieSearchForm(without_nul(request.GET))
    form.is_valid()  # cleaned_data then holds the valid fields only
    filters = {}
    if q := form.cleaned_data.get("q"):
        filters["q"] = q
    if genre := form.cleaned_data.get("genre"):
        filters["genre"] = genre.slug
    elif unknown := form.data.get("genre"):
        filters["genre"] = unknown  # no such genre: no film has it
    # get_page() forgives a bad or out-of-range page number with the nearest page.
    page = Paginator(selectors.movie_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "movies/movie_list.html",
        {"form": form, "page": page, "movies": page.object_list, "filtered": bool(filters)},
    )


def movie_detail(request, slug: str):
    movie = get_object_or_404(selectors.movie_detail(), slug=slug)
    return render(request, "movies/movie_detail.html", {"movie": movie})
