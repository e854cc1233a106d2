"""The OpenAPI schema and the documentation page, which must work without any CDN."""

from __future__ import annotations

import re
from typing import Any


def test_the_docs_page_loads_its_assets_from_this_server(world_a: Any, api_client: Any) -> None:
    # given an anonymous browser on tenant A's domain
    client = api_client("a")

    # when it opens the documentation page
    page = client.get("/api/docs/")

    # then every script and stylesheet is served by this server, not a CDN
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets and all(a.startswith("/api/docs/assets/swagger-ui-dist/") for a in assets)
    assert "cdn." not in html and "https://" not in html.replace("https://swagger.io", "")
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert int(response["Content-Length"]) > 0
    # and the ReDoc page too
    redoc = client.get("/api/docs/redoc/").content.decode()
    assert "/api/docs/assets/redoc/bundles/redoc.standalone.js" in redoc
    assert client.get("/api/docs/assets/redoc/bundles/redoc.standalone.js").status_code == 200


def test_every_operation_documents_the_error_shape(world_a: Any, api_client: Any) -> None:
    schema = api_client("a").get("/api/schema/?format=json").json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert sorted(detail["properties"]) == ["code", "fields", "message"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (
                    method, path, status)
    assert set(schema["components"]["securitySchemes"]) == {"cookieAuth", "tokenAuth"}


def test_unknown_api_urls_are_json_404s(world_a: Any, api_client: Any) -> None:
    response = api_client("a").post("/api/v1/nothing-here/", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such API endpoint.",
                                         "fields": {}}}
