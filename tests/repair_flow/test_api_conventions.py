"""What every endpoint of /api/v1/ shares: paths end with a slash, every
operation documents its errors in the one shape, and every list refuses an
unknown filter value or a bad `limit`/`offset` with 400 (never a 500)."""

import pytest
from rest_framework.test import APIClient

from tests.api_errors import field_errors

HUGE = "9223372036854775808"  # 2**63: past every database's integer


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", {"format": "json"}).json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_path_ends_with_a_slash(schema):
    paths = [path for path in schema["paths"] if path.startswith("/api/v1/")]
    assert len(paths) > 40
    assert [path for path in paths if not path.endswith("/")] == []


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "code"]
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"400"}
        if operation.get("security"):
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
            if method == "post":
                expected.add("409")
        if method in {"post", "put", "patch"}:
            # A body too large, or in a media type the path does not read.
            expected |= {"413", "415"}
        assert expected <= set(responses), (method, path)
        for code in expected - {"400"}:
            schema_of = responses[code]["content"]["application/json"]["schema"]
            assert schema_of == error, (method, path, code)
        assert responses["400"]["content"]["application/json"]["schema"], (method, path)


def test_the_operations_that_read_or_write_files_document_the_storage_outage(schema):
    """503 `storage_unavailable` (repair_flow.storage): uploads and file downloads."""
    documented = {
        (method.upper(), path)
        for path, method, operation in operations(schema)
        if "503" in operation["responses"]
    }
    assert documented == {
        ("POST", "/api/v1/repair-cases/{id}/materials/"),
        ("POST", "/api/v1/objections/{id}/materials/"),
        ("POST", "/api/v1/repair-cases/{id}/false-materials/"),
        ("POST", "/api/v1/breach-reviews/{id}/statement/"),
        ("POST", "/api/v1/verify/{code}/"),
        ("GET", "/api/v1/letters/{id}/pdf/"),
    }
    for method, path in documented:
        answer = schema["paths"][path][method.lower()]["responses"]["503"]
        assert "storage_unavailable" in answer["description"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


# Every list, the persona who may read it, and its filters with a fixed set of values.
LISTS = [
    ("/api/v1/repair-cases/", "officer", ["status"]),
    ("/api/v1/objections/", "officer", ["status"]),
    ("/api/v1/tasks/", "officer", ["box", "stage", "due"]),
    ("/api/v1/breach-reviews/", "officer", ["status", "source"]),
    ("/api/v1/monitoring/", "applicant", []),
    ("/api/v1/letters/", "officer", ["kind", "status"]),
    ("/api/v1/records/", "officer", ["status", "severity", "subject_type"]),
]
FILTERS = [(path, persona, name) for path, persona, names in LISTS for name in names]
PAGING = [
    ("limit", HUGE),
    ("limit", ""),
    ("limit", "0"),
    ("limit", "-1"),
    ("limit", "201"),  # settings.API_MAX_LIMIT + 1
    ("limit", "abc"),
    ("offset", HUGE),
    ("offset", "-1"),
    ("offset", "1.5"),
]


@pytest.mark.parametrize(("path", "persona", "name"), FILTERS)
def test_an_unknown_filter_value_is_refused(request, api_for, path, persona, name):
    api = api_for(request.getfixturevalue(persona))
    for value in ("nonsense", ""):
        response = api.get(path, {name: value})
        assert response.status_code == 400
        body = field_errors(response)
        assert list(body) == [name] and "nonsense" not in body[name][0]


@pytest.mark.parametrize(("path", "persona"), [(path, persona) for path, persona, _ in LISTS])
@pytest.mark.parametrize(("name", "value"), PAGING)
def test_a_limit_or_offset_out_of_range_is_refused(request, api_for, path, persona, name, value):
    api = api_for(request.getfixturevalue(persona))
    response = api.get(path, {name: value})
    assert response.status_code == 400
    assert list(field_errors(response)) == [name]


@pytest.mark.parametrize(("path", "persona"), [(path, persona) for path, persona, _ in LISTS])
def test_the_largest_limit_and_offset_are_answered(request, api_for, path, persona):
    response = api_for(request.getfixturevalue(persona)).get(
        path, {"limit": "200", "offset": "1000000000"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["results"] == []


def test_the_page_size_ceiling_is_a_setting_and_documented(settings, schema, api_for, officer):
    # Issue 18: no list answers more than API_MAX_LIMIT rows; the schema says so.
    for path, _persona, _filters in LISTS:
        limit = next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "limit")
        assert limit["schema"]["maximum"] == settings.API_MAX_LIMIT == 200, path
        assert "API_MAX_LIMIT" in limit["description"]
    settings.API_MAX_LIMIT = 10
    api = api_for(officer)
    assert api.get("/api/v1/letters/", {"limit": "10"}).status_code == 200
    response = api.get("/api/v1/letters/", {"limit": "11"})
    assert response.status_code == 400
    assert "1 至 10" in field_errors(response)["limit"][0]


@pytest.mark.parametrize(("name", "value"), [("limit", HUGE), ("limit", "0"), ("after", HUGE)])
def test_the_sync_feed_refuses_a_bad_limit_or_after(api_for, integration, name, value):
    response = api_for(integration).get("/api/v1/sync-events/", {name: value})
    assert response.status_code == 400
    assert list(field_errors(response)) == [name]


def test_a_body_in_a_media_type_the_path_does_not_read_is_a_documented_415(schema):
    # Found by the schemathesis run: POST /verify/{code}/ answered an
    # undocumented 415 to a multipart body.
    response = APIClient().post(
        "/api/v1/verify/ABCDEFGH/", "x=1", content_type="application/x-unknown"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    documented = schema["paths"]["/api/v1/verify/{code}/"]["post"]["responses"]
    assert documented["415"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_a_path_without_its_slash_is_404_in_the_error_shape(api_for, applicant):
    # No APPEND_SLASH redirect (which cannot keep a POST's body): the error shape with a hint.
    response = api_for(applicant).post("/api/v1/repair-cases/1/submit", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "没有这个接口：接口路径均以 / 结尾，请使用 /api/v1/repair-cases/1/submit/",
        "code": "not_found",
    }
    response = APIClient().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "没有这个接口。", "code": "not_found"}
