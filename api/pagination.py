"""Cursor pagination with a stable order: the ``ordering`` parameter picks one of a
few orders, each ending in the primary key, so a page boundary never splits ties
differently from one request to the next."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = _("This cursor is not valid: follow the “next” and “previous” links as given.")
    # Set per view: public name → model fields (the first gives the cursor's position).
    orderings: dict[str, tuple[str, ...]] = {"id": ("pk",)}
    default_ordering_name = "id"

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        orderings = getattr(view, "orderings", self.orderings)
        default = getattr(view, "default_ordering", self.default_ordering_name)
        name = request.query_params.get("ordering", default) or default
        if name not in orderings:
            raise ValidationError({"ordering": [_("Choose one of: %s.") % ", ".join(orderings)]})
        return orderings[name]

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= self.max_page_size:
            raise ValidationError({"page_size": [_("Give a whole number from 1 to %d.") % self.max_page_size]})
        return value
