"""The admin's own look: the project's name in the header and title, and the
site's icon, so no page (admin or not) answers /favicon.ico with a 404."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_admin_is_named_after_the_site(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Reel &amp; Shelf administration" in html
    assert "<title>Site administration | Reel &amp; Shelf admin</title>" in html
    assert "Django administration" not in html


def test_admin_pages_link_the_site_icon(admin_client, client):
    for response in (
        admin_client.get("/admin/"),
        admin_client.get("/admin/catalog/order/"),
        client.get("/admin/login/"),
    ):
        assert '<link rel="icon" href="/static/img/favicon.svg"' in response.content.decode()


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
