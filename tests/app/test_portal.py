from fastapi.testclient import TestClient


def test_portal_page_and_assets(client: TestClient) -> None:
    page = client.get("/portal")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/portal/portal.js">' in page.text
    script = client.get("/portal/portal.js")
    assert script.status_code == 200 and "Bearer" in script.text
    assert client.get("/portal/portal.css").status_code == 200
    assert client.get("/portal/secrets.txt").status_code == 404
