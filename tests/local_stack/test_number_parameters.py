"""Number parameters behave as CloudFormation's do: validated as numbers, a string to `Ref`.

CloudFormation User Guide, "Parameters", Type `Number`: "when you use the parameter
elsewhere in your template (for example, by using the Ref intrinsic function), the parameter
value becomes a string". The template's concurrency caps rely on it:
`CapCustomersRdsConcurrency: !Not [!Equals [!Ref CustomersRdsMaxConcurrency, "0"]]`.
"""

from pathlib import Path

import pytest

from local_stack.iam.report import TEST_STACK_PREFIX
from local_stack.services import mysql
from local_stack.services.endpoint import AwsEndpoint
from tests.conftest import deploy


def test_a_zero_cap_means_no_reserved_concurrency(
    endpoint: AwsEndpoint, mysql_server: mysql.ServerAddress, function_logs: Path
):
    """Given CustomersRdsMaxConcurrency=0 (the documented "no cap"), the RDS function has no
    reserved concurrency (AWS: the property is left out), and a non-zero cap is the
    function's reserved concurrency.

    Mutation caught: passing Number parameters to moto as declared (`_numbers_as_strings`
    in local_stack/assembly/cloud.py returning `declared`): moto resolves the Ref to the int 0, the
    Equals against "0" is false, and the function gets reserved concurrency 0, so every
    invocation is throttled."""
    stack = deploy(
        endpoint,
        function_logs,
        f"{TEST_STACK_PREFIX}number-parameters",
        parameters={"CustomersRdsMaxConcurrency": "0", "CustomersDjangoMaxConcurrency": "3"},
    )
    try:
        assert stack.cloud.function_config("CustomersRdsFunction").reserved_concurrency is None
        assert stack.cloud.function_config("CustomersDjangoFunction").reserved_concurrency == 3
    finally:
        stack.close()


def test_a_number_parameter_that_is_not_a_number_is_refused(
    endpoint: AwsEndpoint, mysql_server: mysql.ServerAddress, function_logs: Path
):
    """Mutation caught: the number check dropped (CloudFormation refuses the stack)."""
    with pytest.raises(ValueError, match="CustomersRdsMaxConcurrency' must be a number"):
        deploy(
            endpoint,
            function_logs,
            f"{TEST_STACK_PREFIX}number-refused",
            parameters={"CustomersRdsMaxConcurrency": "ten"},
        )
