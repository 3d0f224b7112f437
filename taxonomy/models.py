"""Vocabularies and their terms, held as data (loaded from ``taxonomy/data``).

Codes are stable identifiers: never renamed or deleted, only deprecated with a
pointer to the replacement. Labels and definitions are editable data.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Vocabulary(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=40)
    description = models.TextField(_("description"), blank=True)
    # One term per record (severity, autonomy) or many (harm types, stakeholders).
    multiple = models.BooleanField(_("many terms per record"), default=True)
    source = models.TextField(_("source"), blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("vocabulary")
        verbose_name_plural = _("vocabularies")

    def __str__(self) -> str:
        return f"{self.code} ({self.version})"


class Term(models.Model):
    vocabulary = models.ForeignKey(Vocabulary, on_delete=models.PROTECT, related_name="terms")
    code = models.CharField(_("code"), max_length=80)
    label = models.CharField(_("label"), max_length=200)
    definition = models.TextField(_("definition"), blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    deprecated_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("deprecated by")
    )
    # The vocabulary version in which this term was last changed by a load.
    version = models.CharField(_("vocabulary version"), max_length=40, blank=True)
    unconfirmed = models.BooleanField(
        _("unconfirmed"), default=False, help_text=_("Read from a third-party mirror, not the source text.")
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["vocabulary__sort_order", "sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["vocabulary", "code"], name="term_unique_code")]
        verbose_name = _("term")
        verbose_name_plural = _("terms")

    def __str__(self) -> str:
        return self.label

    @property
    def is_family(self) -> bool:
        return self.parent_id is None and "." not in self.code and self.vocabulary.code == "iasr-2025"

    @property
    def deprecated(self) -> bool:
        return self.deprecated_by_id is not None


class Mapping(models.Model):
    """An approximate crosswalk from one term to a term of another vocabulary."""

    source = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="mappings_out")
    target = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="mappings_in")
    version = models.CharField(_("crosswalk version"), max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="mapping_unique_pair")]

    def __str__(self) -> str:
        return f"{self.source.code} → {self.target.code}"
