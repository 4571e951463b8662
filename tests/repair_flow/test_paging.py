"""A page read by its keys first (repair_flow.paging.page_slice): the same rows
in the same order as slicing the list, whatever the list is."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import Department, Sector
from repair_flow.paging import page_slice

pytestmark = pytest.mark.django_db


@pytest.fixture
def departments():
    return [
        Department.objects.create(code=f"D{n:02d}", name=f"部门{n:02d}", sector=Sector.OTHER)
        for n in range(9)
    ]


def test_a_page_is_the_slice_of_the_ordered_list_by_its_keys(departments):
    ordered = Department.objects.order_by("-code")
    for start, stop in ((0, 4), (4, 8), (8, 12), (20, 24)):
        with CaptureQueriesContext(connection) as queries:
            page = page_slice(ordered, start, stop)
        assert page == list(ordered[start:stop])
        # The keys, then the rows (none when the keys are none).
        assert len(queries) == (2 if page else 1)
        assert "LIMIT" in queries[0]["sql"] and '"code"' not in queries[0]["sql"].split("FROM")[0]


def test_what_cannot_be_read_by_key_is_sliced_as_it_is(departments):
    codes = Department.objects.order_by("code")
    assert page_slice(list(codes), 2, 4) == list(codes)[2:4]
    assert page_slice(codes.values_list("code", flat=True), 0, 2) == ["D00", "D01"]
    plain = Department.objects.order_by()
    union = plain.filter(code="D01").union(plain.filter(code="D05")).order_by("code")
    assert [d.code for d in page_slice(union, 0, 5)] == ["D01", "D05"]
