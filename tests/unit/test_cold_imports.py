"""Cold-start imports: what the models keep off the import path, without changing behaviour.

`make bench` measures cold starts; these tests only pin the mechanism (never a duration).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import AfterValidator, EmailStr, TypeAdapter, ValidationError

from customer_platform.customers.models import Email

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared"

ADDRESSES = [
    "ada@example.com",
    " Ada.Lovelace@Example.COM ",
    "John Doe <J.Doe@Example.com>",
    "é@exämple.com",
    "not-an-email",
    "a@b",
    "a@[127.0.0.1]",
    "x" * 300 + "@example.com",
    "",
]


def _outcome(adapter: TypeAdapter[Any], value: str) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        return error.errors(include_url=False)


def test_email_validator_is_imported_on_first_validation_not_at_import():
    code = (
        "import sys\n"
        "import customer_platform.customers.models as models\n"
        "import customer_platform.events.models, customer_platform.partners.models\n"
        "before = 'email_validator' in sys.modules\n"
        "email = models.CustomerInput(name='Ada', email='Ada@Example.com').email\n"
        "print(before, 'email_validator' in sys.modules, email)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(LAYER)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["False", "True", "ada@example.com"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_email_validates_exactly_as_pydantic_email_str(address: str):
    ours: TypeAdapter[str] = TypeAdapter(Email)
    pydantic_own: TypeAdapter[str] = TypeAdapter(Annotated[EmailStr, AfterValidator(str.lower)])
    assert _outcome(ours, address) == _outcome(pydantic_own, address)


def test_email_json_schema_is_pydantic_email_str_schema():
    ours = TypeAdapter(Email).json_schema()
    pydantic_own = TypeAdapter(Annotated[EmailStr, AfterValidator(str.lower)]).json_schema()
    assert json.dumps(ours, sort_keys=True) == json.dumps(pydantic_own, sort_keys=True)
    assert ours == {"format": "email", "type": "string"}


def test_audit_function_builds_its_api_only_for_an_api_event():
    """An SQS batch, the audit function's usual cold start, imports no event handler.

    Mutation: building the resolver at import again (`app = api()` at module level in
    functions/customer_audit/app.py) makes `before` True and this test fail."""
    code = (
        "import sys\n"
        "import app\n"
        "before = 'aws_lambda_powertools.event_handler' in sys.modules\n"
        "routes = [r.method + ' ' + r.rule.pattern for r in app.api()._dynamic_routes]\n"
        "print(json.dumps([before, 'aws_lambda_powertools.event_handler' in sys.modules,"
        " routes, app.api() is app.api()]))\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import json\n" + code],
        cwd=LAYER.parents[1] / "functions" / "customer_audit",
        env={
            "PYTHONPATH": f"{LAYER.parents[1] / 'functions' / 'customer_audit'}:{LAYER}",
            "AUDIT_TABLE_NAME": "audit",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "customer-platform",
            "POWERTOOLS_METRICS_NAMESPACE": "CustomerPlatform",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, routes, cached = json.loads(result.stdout.splitlines()[-1])
    assert (before, after, cached) == (False, True, True)
    assert len(routes) == 1
    assert routes[0].startswith("GET ^/(?P<backend>")
