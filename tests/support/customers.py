"""A small client for the customers API, shared by every test that speaks HTTP to it."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from local_stack.services.apigateway import ApiResponse, LocalApi
from tests.support.polling import rounds


def unique_email(tag: str = "c") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class CustomersClient:
    api: LocalApi
    backend: str  # "dynamodb", "rds" or "aurora"
    headers: dict[str, str] | None = None  # e.g. the Authorization of a signed-in user

    @property
    def base(self) -> str:
        return f"/{self.backend}/customers"

    def call(
        self,
        method: str,
        path: str = "",
        body: Any = None,
        *,
        raw: str | None = None,
        query: dict[str, str] | None = None,
    ) -> ApiResponse:
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.api.request(
            method, self.base + path, body=payload, query=query, headers=self.headers
        )

    def create(self, name: str = "Ada Lovelace", email: str | None = None) -> dict[str, Any]:
        response = self.call("POST", body={"name": name, "email": email or unique_email()})
        assert response.status == 201, response.body
        created: dict[str, Any] = response.json()
        return created

    def list_all(self, limit: int = 100) -> list[dict[str, Any]]:
        """Every customer, following nextToken until null."""
        items: list[dict[str, Any]] = []
        query = {"limit": str(limit)}
        for _ in rounds("a page without nextToken"):
            response = self.call("GET", query=query)
            assert response.status == 200, response.body
            page = response.json()
            items.extend(page["items"])
            if page["nextToken"] is None:
                return items
            query = {"limit": str(limit), "nextToken": page["nextToken"]}
        return items  # pragma: no cover - rounds() raises first
