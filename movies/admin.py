from datetime import date

from django.contrib import admin
from django.db.models import Count, Prefetch

from movies.models import Genre, Movie, Person


class DecadeListFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        # One query: the distinct release years, folded into decades.
        years = model_admin.get_queryset(request).dates("release_date", "year")
        decades = sorted({day.year // 10 * 10 for day in years}, reverse=True)
        return [(str(decade), f"{decade}s") for decade in decades]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            decade = int(value) // 10 * 10
            start, end = date(decade, 1, 1), date(decade + 10, 1, 1)
        except ValueError:
            # A hand-edited URL: show everything rather than an error.
            return queryset
        return queryset.filter(release_date__gte=start, release_date__lt=end)


class RatingListFilter(admin.SimpleListFilter):
    title = "rating"
    parameter_name = "rating"
    BANDS = {
        "90": ("90 and over", 90, 101),
        "80": ("80–89", 80, 90),
        "70": ("70–79", 70, 80),
        "0": ("under 70", 0, 70),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        _, low, high = band
        return queryset.filter(rating__gte=low, rating__lt=high)


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "director", "rating", "genre_list"]
    list_select_related = ["director"]
    list_filter = ["genres", DecadeListFilter, RatingListFilter]
    search_fields = ["title", "director__name"]
    date_hierarchy = "release_date"
    autocomplete_fields = ["director"]
    filter_horizontal = ["genres"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["created", "updated"]
    fields = [
        "title",
        "slug",
        "release_date",
        "rating",
        "duration",
        "director",
        "genres",
        "created",
        "updated",
    ]
    list_per_page = 50

    def get_queryset(self, request):
        # The genre column reads a prefetched list: one query per page, not
        # one per row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("genres", queryset=Genre.objects.order_by("name")))
        )

    @admin.display(description="year", ordering="release_date")
    def year(self, movie):
        return movie.release_date.year

    @admin.display(description="genres")
    def genre_list(self, movie):
        return ", ".join(genre.name for genre in movie.genres.all())


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "film_count"]
    search_fields = ["name"]
    # Explicit: Meta.ordering does not apply to the grouped (annotated) query.
    ordering = ["name", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(film_count=Count("directed_movies"))

    @admin.display(description="films directed", ordering="film_count")
    def film_count(self, person):
        return person.film_count


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "film_count"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(film_count=Count("movies"))

    @admin.display(description="films", ordering="film_count")
    def film_count(self, genre):
        return genre.film_count
