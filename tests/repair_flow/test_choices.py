"""Every model's get_<field>_display() (repair_flow.choices): the label of
the value in the language of the request, read from a dict built once."""

import pytest
from django.utils import translation

from flows.models import CaseStatus, RepairCase
from repair_flow.choices import choice_display

pytestmark = pytest.mark.django_db


def test_the_label_is_translated_when_read():
    case = RepairCase(status=CaseStatus.IN_PRELIMINARY_REVIEW)
    with translation.override("zh-hans"):
        assert case.get_status_display() == "初审中"
    with translation.override("en"):
        assert case.get_status_display() == "In preliminary review"


def test_a_value_without_a_choice_is_shown_as_it_is():
    assert RepairCase(status="no_such_status").get_status_display() == "no_such_status"
    assert RepairCase(status=None).get_status_display() is None


def test_each_model_s_display_is_the_fast_one_with_django_s_labels():
    field = RepairCase._meta.get_field("status")
    assert RepairCase.get_status_display.__qualname__.startswith("choice_display")
    for value, label in field.flatchoices:
        assert RepairCase(status=value).get_status_display() == str(label)
        assert choice_display(field)(RepairCase(status=value)) == str(label)
