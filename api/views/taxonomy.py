"""``/api/v1/taxonomy/``: the vocabularies, their terms, and the crosswalk."""

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, viewsets

from taxonomy.models import Mapping, Term, Vocabulary

from ..serializers import MappingSerializer, VocabularySerializer
from .base import ApiViewMixin


@extend_schema_view(
    list=extend_schema(summary="Every vocabulary with its terms"),
    retrieve=extend_schema(summary="One vocabulary with its terms"),
)
class VocabularyViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = VocabularySerializer
    lookup_field = "code"
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Vocabulary]:
        terms = Term.objects.select_related("parent", "deprecated_by").order_by("sort_order", "code")
        return Vocabulary.objects.prefetch_related(Prefetch("terms", queryset=terms)).order_by("sort_order", "code")


@extend_schema(summary="The crosswalk between vocabularies (iasr-2025 → MIT AI Risk Repository)")
class CrosswalkView(ApiViewMixin, generics.ListAPIView):
    serializer_class = MappingSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Mapping]:
        return Mapping.objects.select_related("source__vocabulary", "target__vocabulary").order_by(
            "source__vocabulary__sort_order", "source__sort_order", "target__sort_order"
        )
