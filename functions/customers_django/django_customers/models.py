"""The ORM's view of two tables the project's SQL migrations own.

`managed = False`: Django never creates, alters or drops these tables, and this project
has no Django migrations. The schema has one source, the versioned SQL files of
customer_platform/migrations, applied by one entry point before new code starts (the
DatabaseMigrations custom resource, the local stack, the tests), because three other
functions use the same tables without Django: the RDS API, the partner writer and the
outbox relay. Two schema tools on one table would each believe they own it; `makemigrations`
would also describe columns that Django does not know (`partner_id`), and a team would have
to keep both in step by hand. So the models declare only what this API reads and writes,
and the SQL stays the truth (tests/integration/test_customers_django.py compares them).

The fields are annotated because mypy runs without django-stubs' plugin, which would have
to set Django up (and read this function's environment) to type-check.
"""

from datetime import datetime

from django.db import models

from customer_platform.customers.models import MAX_EMAIL_LENGTH, Customer


class CustomerRow(models.Model):
    """migrations/0001_create_customers.sql (partner_id, from 0002, is the partner sync's)."""

    id: "models.CharField[str, str]" = models.CharField(primary_key=True, max_length=36)
    name: "models.CharField[str, str]" = models.CharField(max_length=100)
    email: "models.CharField[str, str]" = models.CharField(max_length=MAX_EMAIL_LENGTH, unique=True)
    created_at: "models.DateTimeField[datetime, datetime]" = models.DateTimeField()
    updated_at: "models.DateTimeField[datetime, datetime]" = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "customers"

    @classmethod
    def of(cls, customer: Customer) -> "CustomerRow":
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )

    def customer(self) -> Customer:
        return Customer(
            id=self.id,
            name=self.name,
            email=self.email,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class OutboxRow(models.Model):
    """migrations/0003_create_customer_events_outbox.sql: the relay publishes these rows."""

    id: "models.BigAutoField[int, int]" = models.BigAutoField(primary_key=True)
    event_id: "models.CharField[str, str]" = models.CharField(max_length=36, unique=True)
    event_type: "models.CharField[str, str]" = models.CharField(max_length=32)
    customer_id: "models.CharField[str, str]" = models.CharField(max_length=36)
    payload: "models.TextField[str, str]" = models.TextField()
    created_at: "models.DateTimeField[datetime, datetime]" = models.DateTimeField()
    published_at: "models.DateTimeField[datetime | None, datetime | None]" = models.DateTimeField(
        null=True
    )

    class Meta:
        managed = False
        db_table = "customer_events_outbox"
