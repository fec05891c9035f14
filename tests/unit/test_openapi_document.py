"""docs/openapi.json: generated from the code, valid, complete, and never stale."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from customer_platform.customers.logic import MAX_PAGE_SIZE
from customer_platform.customers.models import ID_PATTERN, NOT_BLANK_PATTERN
from customer_platform.documents.models import ALLOWED_CONTENT_TYPES, filename_json_schema
from customer_platform.pagination import MAX_TOKEN_LENGTH
from tools import openapi

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"
OPERATIONS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return openapi.document()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


def test_the_committed_document_is_what_the_code_generates(generated: dict[str, Any]):
    # Given the document regenerated from the routes and models now
    # Then docs/openapi.json is byte for byte the same (else: run `make openapi`)
    assert COMMITTED.read_text() == openapi.render(generated)


def test_the_template_models_and_the_document_are_up_to_date():
    messages: list[str] = []

    status = openapi.main(["--check"], out=messages.append)

    assert (status, messages) == (0, [])


def test_it_is_a_valid_openapi_3_1_document(generated: dict[str, Any]):
    assert generated["openapi"].startswith("3.1")
    validate(generated)


def test_every_operation_documents_its_success_and_its_errors(generated: dict[str, Any]):
    for method, path, operation in operations(generated):
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, (method, path)
        (success,) = successes
        if success != "204":
            schema = responses[success]["content"]["application/json"]["schema"]
            assert schema["$ref"].startswith("#/components/schemas/"), (method, path)
        errors = {status for status in responses if not status.startswith("2")}
        assert {"401", "403", "429", "500"} <= errors, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= errors, (method, path)
        assert all(
            responses[status] == {"$ref": f"#/components/responses/{status}"} for status in errors
        )


def test_every_error_has_the_one_error_shape(generated: dict[str, Any]):
    responses = generated["components"]["responses"]
    error = {"$ref": "#/components/schemas/ErrorResponse"}

    assert set(responses) >= {"400", "404", "405", "409", "422", "500", "503"}
    assert all(r["content"]["application/json"]["schema"] == error for r in responses.values())
    assert generated["components"]["schemas"]["ErrorResponse"]["required"] == ["message"]


def test_the_security_schemes_are_the_three_api_auth_modes_plus_the_api_key(
    generated: dict[str, Any],
):
    schemes = generated["components"]["securitySchemes"]

    assert schemes["CognitoUserPool"]["scheme"] == "bearer"
    assert schemes["SigV4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert (schemes["ApiKey"]["in"], schemes["ApiKey"]["name"]) == ("header", "x-api-key")
    assert all("ApiKey" in alternative for alternative in generated["security"])


def test_a_route_the_table_does_not_describe_fails_the_generation(
    monkeypatch: pytest.MonkeyPatch,
):
    # Given a route whose outcome nobody described
    outcomes = dict(openapi.OUTCOMES)
    del outcomes[("delete", "/documents/{document_id}")]
    monkeypatch.setattr(openapi, "OUTCOMES", outcomes)

    # Then the document cannot be generated
    with pytest.raises(LookupError, match=r"DELETE /documents/\{document_id\}"):
        openapi.document()


def test_the_generated_template_block_replaces_only_itself():
    # Given a template with the markers around an old block
    text = "\n".join(
        [
            "Api:",
            "  Models:",
            f"    {openapi.MODELS_BEGIN}",
            "    Old: {}",
            f"    {openapi.MODELS_END}",
            "  Next: 1",
        ]
    )

    # When the models are written into it
    updated = openapi.update_template(text, {"M": {"type": "object", "required": ["a"]}})

    # Then only the block changed, indented like its markers, as YAML with the same meaning
    assert updated.splitlines() == [
        "Api:",
        "  Models:",
        f"    {openapi.MODELS_BEGIN}",
        "    M:",
        '      type: "object"',
        '      required: ["a"]',
        f"    {openapi.MODELS_END}",
        "  Next: 1",
    ]
    assert yaml.safe_load(updated) == {
        "Api": {"Models": {"M": {"type": "object", "required": ["a"]}}, "Next": 1}
    }


# -- the rules the code enforces, declared for clients ----------------------------------------


def parameter(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in doc["paths"][path][method]["parameters"] if p["name"] == name]
    schema: dict[str, Any] = found["schema"]
    return schema


def test_the_document_content_types_are_the_allow_list(generated: dict[str, Any]):
    field = generated["components"]["schemas"]["DocumentInput"]["properties"]["contentType"]

    assert field["enum"] == sorted(ALLOWED_CONTENT_TYPES)


def test_every_list_declares_its_page_size_and_token_limits(generated: dict[str, Any]):
    for path in ("/dynamodb/customers", "/rds/customers", "/aurora/customers", "/documents"):
        limit = parameter(generated, path, "get", "limit")
        token = parameter(generated, path, "get", "nextToken")

        assert (limit["minimum"], limit["maximum"]) == (1, MAX_PAGE_SIZE), path
        assert token["maxLength"] == MAX_TOKEN_LENGTH, path


def test_every_id_in_a_path_is_declared_as_the_uuid_the_api_issues(generated: dict[str, Any]):
    declared = {
        (path, method): [p["schema"] for p in operation["parameters"] if p["name"].endswith("_id")]
        for path, item in generated["paths"].items()
        for method, operation in item.items()
        if "_id}" in path
    }

    # get, put, delete on each customers backend; events; get, delete documents
    assert len(declared) == 3 * len(openapi.CUSTOMER_BACKENDS) + 3
    for ids in declared.values():
        assert [(i["format"], i["pattern"]) for i in ids] == [("uuid", ID_PATTERN)]


def test_the_customer_fields_declare_their_lengths_and_that_a_name_is_not_blank(
    generated: dict[str, Any],
):
    fields = generated["components"]["schemas"]["CustomerInput"]["properties"]

    assert (fields["name"]["minLength"], fields["name"]["maxLength"]) == (1, 100)
    assert fields["name"]["pattern"] == NOT_BLANK_PATTERN
    assert (fields["email"]["format"], fields["email"]["maxLength"]) == ("email", 254)


def test_the_filename_rules_are_the_ones_the_models_publish(generated: dict[str, Any]):
    field = generated["components"]["schemas"]["DocumentInput"]["properties"]["filename"]

    assert {key: field[key] for key in filename_json_schema()} == filename_json_schema()
