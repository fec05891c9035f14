"""The customers contract runs once per backend.

A backend joins the suite by adding its name to BACKENDS: the routes live under
`/{backend}/customers` of the same local stack.
"""

import pytest

from local_stack.assembly.stack import LocalStack
from tests.support.customers import CustomersClient

BACKENDS = ["dynamodb", "rds", "aurora", "django"]


@pytest.fixture(params=BACKENDS)
def customers(request: pytest.FixtureRequest, stack: LocalStack) -> CustomersClient:
    return CustomersClient(stack.api, request.param)
