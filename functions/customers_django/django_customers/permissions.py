"""Who may use which method: the caller's Cognito groups (customer_platform.authorization).

A module of its own: DRF's settings import it while rest_framework.views loads.
"""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from customer_platform.authorization import authorize

if TYPE_CHECKING:  # rest_framework.views imports this module while it loads
    from rest_framework.views import APIView


class CognitoGroups(BasePermission):
    """The caller's Cognito groups may use this method (customer_platform.authorization):
    a 403 with the same message as on the other backends. API Gateway's event reaches the
    view through apig-wsgi's WSGI environ."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        context = request.META.get("apig_wsgi.request_context") or {}
        authorize(request.method or "", context)
        return True
