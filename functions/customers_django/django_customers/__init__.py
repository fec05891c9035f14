"""The customers API on Django REST Framework: `/django/customers`, on the RDS database.

settings   Django's configuration for one Lambda execution environment
urls       the two routes, and JSON for Django's own 400/403/404/500 answers
views      DRF views: parse, call the shared customer rules, answer
serializers  request validation (the contract's rules, from customer_platform)
models     the ORM's view of the `customers` and outbox tables (managed = False)
repository CustomerRepository on the ORM: the one file that differs from customers/mysql.py
errors     the one place where errors become HTTP responses
mysql      the database backend: Django's MySQL backend on PyMySQL, with the secret
"""
