"""The project's template tags, shared by every app's pages."""

from django.core.paginator import Paginator
from django.template import Context, Template

from config.templatetags.pagination import page_numbers


def test_page_numbers_elide_the_middle():
    paginator = Paginator(range(200), 10)  # 20 pages
    ellipsis = paginator.ELLIPSIS
    assert page_numbers(paginator.page(1)) == [1, 2, ellipsis, 20]
    assert page_numbers(paginator.page(10)) == [1, ellipsis, 9, 10, 11, ellipsis, 20]
    assert page_numbers(paginator.page(20)) == [1, ellipsis, 19, 20]
    assert page_numbers(Paginator(range(30), 10).page(2)) == [1, 2, 3]


def test_pagination_loads_from_the_project_in_any_template():
    page = Paginator(range(30), 10).page(2)
    html = Template(
        "{% load pagination %}{% for n in page|page_numbers %}{{ n }} {% endfor %}"
    ).render(Context({"page": page}))
    assert html == "1 2 3 "
