"""The API's one error shape (repair_flow/api_common.py), for the API tests."""


def field_errors(response) -> dict:
    """The body of a 4xx answer without its `detail` and `code`, after checking
    that both are there: what is left are the messages per field."""
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    return {k: v for k, v in body.items() if k not in ("detail", "code")}
