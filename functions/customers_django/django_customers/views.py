"""The customers routes as DRF views: parse and validate, call one customer rule, answer.

The rules (ids, timestamps, `updatedAt` that strictly advances, page tokens) are the ones
every backend runs, customer_platform.customers.logic; only storage (repository.py) and
HTTP (this module) are Django's. APIViews rather than a ModelViewSet: a viewset's
generic create/update would save through the serializer and bypass those rules, and its
router adds trailing-slash routes and a browsable root the contract does not have.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customer_platform.customers import logic
from customer_platform.customers.repository import CustomerRepository
from customer_platform.pagination import PageTokenCodec, secret_keyed_codec
from django_customers.errors import NOT_AN_OBJECT, InvalidRequest
from django_customers.repository import DjangoCustomerRepository
from django_customers.serializers import CustomerInputSerializer, ListQuerySerializer

PREFIX = "/django"
metrics = Metrics()


@cache
def repository() -> CustomerRepository:
    return DjangoCustomerRepository()


@cache
def page_tokens() -> PageTokenCodec:
    return secret_keyed_codec("django/customers", settings.ENV.page_token_secret_arn)


def _count(name: str) -> None:
    metrics.add_dimension(name="backend", value="django")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _valid(serializer: serializers.Serializer, where: str) -> Any:  # type: ignore[type-arg]
    if not serializer.is_valid():
        raise InvalidRequest(where, serializer.errors)
    return serializer


def _customer_body(request: Request) -> CustomerInputSerializer:
    # An empty body reaches DRF as no stream at all (request.data is then {}); the
    # contract calls it what it is, a body that is not a JSON object.
    if request.stream is None or not isinstance(request.data, dict):
        raise ParseError(NOT_AN_OBJECT)
    serializer: CustomerInputSerializer = _valid(CustomerInputSerializer(data=request.data), "body")
    return serializer


class CustomerCollection(APIView):
    # Only the contract's methods: Django would answer HEAD as GET, and DRF's OPTIONS would
    # describe the view (its docstring included). Both are a 405, as on the other backends.
    http_method_names = ("get", "post")

    def get(self, request: Request) -> Response:
        query = _valid(ListQuerySerializer(data=request.query_params), "query").validated_data
        page = logic.list_customers(repository(), page_tokens(), query["limit"], query["nextToken"])
        return Response(page.model_dump(mode="json", by_alias=True))

    def post(self, request: Request) -> Response:
        created = logic.create_customer(repository(), _customer_body(request).customer_input())
        _count("CustomersCreated")
        return Response(
            created.to_api(),
            status=201,
            headers={"Location": f"{PREFIX}/customers/{created.id}"},
        )


class CustomerItem(APIView):
    http_method_names = ("get", "put", "delete")

    def get(self, request: Request, customer_id: str) -> Response:
        return Response(logic.get_customer(repository(), customer_id).to_api())

    def put(self, request: Request, customer_id: str) -> Response:
        data = _customer_body(request).customer_input()
        updated = logic.update_customer(repository(), customer_id, data)
        _count("CustomersUpdated")
        return Response(updated.to_api())

    def delete(self, request: Request, customer_id: str) -> Response:
        logic.delete_customer(repository(), customer_id)
        _count("CustomersDeleted")
        return Response(status=204)
