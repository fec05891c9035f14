"""The routes: API Gateway sends `/django/customers` and `/django/customers/{id}` here.

A trailing slash is optional, as it is on API Gateway's resources and the other backends'
resolvers, and is never a redirect (settings.APPEND_SLASH is off). Django's own error
views answer JSON (errors.py), for what fails outside a DRF view.
"""

from django.urls import re_path

from django_customers.views import CustomerCollection, CustomerItem

urlpatterns = [
    re_path(r"^django/customers/?$", CustomerCollection.as_view()),
    re_path(r"^django/customers/(?P<customer_id>[^/]+)/?$", CustomerItem.as_view()),
]

handler400 = "django_customers.errors.bad_request"
handler403 = "django_customers.errors.forbidden"
handler404 = "django_customers.errors.not_found"
handler500 = "django_customers.errors.server_error"
