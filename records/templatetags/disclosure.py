"""`{% load disclosure %}`: a record's status and disclosure words by whose
record it is (records.disclosure; Shandong Social Credit Regulation Art. 20)."""

from django import template

from records.disclosure import disclosure_words, record_status_label

register = template.Library()


@register.filter
def status_label(record) -> str:
    """{{ record|status_label }}: 公示中 for an enterprise, 共享使用中 for a natural person."""
    return record_status_label(record)


@register.filter
def disclosure(subject, word: str) -> str:
    """{{ subject|disclosure:"period" }}: one of records.disclosure.DisclosureWords' words."""
    return str(getattr(disclosure_words(subject), word))
