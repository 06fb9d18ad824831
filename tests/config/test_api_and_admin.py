import re

import pytest
from django.test import RequestFactory

from config.api import api

pytestmark = pytest.mark.django_db


def test_admin_login_page_and_its_stylesheet_are_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    stylesheets = re.findall(r'href="([^"]+\.css)"', response.content.decode())
    assert stylesheets, "the admin login page links no stylesheet"
    for href in stylesheets:
        css = client.get(href)
        assert css.status_code == 200, href
        assert css["Content-Type"].startswith("text/css")


def test_api_docs_page(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


def test_openapi_schema(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/deeply/nested/unknown/", "/api"])
def test_unknown_api_path_is_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_unknown_api_path_is_json_404_in_debug_too(client, settings):
    settings.DEBUG = True
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Not Found")


@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_error_becomes_json_500_without_traceback(settings, debug):
    settings.DEBUG = debug
    request = RequestFactory().get("/api/anything")
    response = api.on_exception(request, RuntimeError("secret internals"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content
