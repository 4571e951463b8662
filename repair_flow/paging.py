"""Counting a list's rows without scanning them (issue 18).

A page of a list is an index range, but its "共 N 条" was an exact COUNT(*)
over every matching row: at a million records, the slowest query of the page.
Up to settings.LIST_EXACT_COUNT_LIMIT rows the count is exact; beyond, on
PostgreSQL, the planner's estimate for the same query stands in (EXPLAIN, no
rows read; a count bounded by the limit checks the estimate is not far
below it), as the figure a person reads on a page of a long list needs only
to be about right. Other databases always count exactly.

A page itself is read in two steps (`page_slice`): the keys of its rows by a
narrow query (the filters and the order, none of the joins that only fetch
related rows for display), then those rows with everything the page shows.
An offset skips rows of the narrow query only: at offset 5,000 the task queue
joined ten tables for 5,050 rows to show 50 (217 ms), where its keys are an
index range.
"""

import json

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models.query import ModelIterable
from django.utils.functional import cached_property


def planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of the rows `queryset` returns, or None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        # Only the filter decides how many rows: the joins a page adds to
        # show each row (select_related) cost the planner time, not rows
        # (10 ms of 11 for an applicant's case list at 100,000 cases).
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        # A filter that can match nothing (`__in` an empty list): Django
        # answers it without SQL, and so does this.
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def list_count(queryset) -> tuple[int, bool]:
    """(count, estimated): exact up to LIST_EXACT_COUNT_LIMIT, else the estimate."""
    limit = settings.LIST_EXACT_COUNT_LIMIT
    estimate = planner_estimate(queryset)
    if estimate is None or estimate <= limit:
        return queryset.count(), False
    # The estimate can be far off (a table not analysed yet says 80 rows for
    # 2): count up to the limit exactly, which reads at most limit + 1 rows.
    # Of the keys alone: a sliced count is a subquery, which would compute
    # every annotation (the breach reviews' ordinal) for each row counted.
    bounded = queryset.order_by().values("pk")[: limit + 1].count()
    if bounded <= limit:
        return bounded, False
    return max(estimate, bounded), True


def page_slice(queryset, start: int, stop: int) -> list:
    """Rows start..stop of an ordered queryset: their keys by a narrow query,
    then the rows by key (see the module's docstring). Anything but a
    queryset of model instances is sliced as it is."""
    iterable = getattr(queryset, "_iterable_class", None)
    if (
        not (isinstance(iterable, type) and issubclass(iterable, ModelIterable))
        or queryset.query.combinator  # a union's rows cannot be filtered by key
        or queryset.query.is_sliced
    ):
        return list(queryset[start:stop])
    keys = list(queryset.values_list("pk", flat=True)[start:stop])
    if not keys:
        return []
    rows = {row.pk: row for row in queryset.order_by().filter(pk__in=keys)}
    return [rows[key] for key in keys if key in rows]


class EstimatedCountPaginator(Paginator):
    """A Paginator whose count is `list_count`'s: `estimated` says which."""

    estimated = False

    @cached_property
    def count(self) -> int:
        if not hasattr(self.object_list, "query"):
            count = super().count
            # A QuerysetChain counts its parts by list_count.
            self.estimated = getattr(self.object_list, "estimated", False)
            return count
        count, self.estimated = list_count(self.object_list)
        return count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(page_slice(self.object_list, bottom, top), number, self)


class QuerysetChain:
    """Querysets read one after another as one list, for a list whose order
    no single index serves but each part's does (the staff's breach reviews:
    the pending ones by their clock's deadline, then the decided ones newest
    first). A Paginator takes it as it takes a queryset: `count()` adds the
    parts' `list_count`s (`estimated` if any is), a slice reads each part it
    spans by `page_slice`.

    A slice must know exactly where a part ends, or rows would be skipped or
    shown twice. It does without counting when a page ends inside the part
    or ends it (from the rows it read), or when the part's count was exact;
    only a page that starts past a part counted by an estimate counts that
    part exactly (one query), and reads none of it if it ends before.

    `whole`, when given, is a queryset of exactly the parts' rows together
    (unordered, without the joins that split them): count() is then its one
    list_count, and a part's own count is taken only by a page that starts
    past it. The breach reviews' parts join the pending ones to their clock,
    a join the planner cannot estimate (the clock's polymorphic case_id), so
    their counts were exact at any size: 2 x 2 queries reading every pending
    review, against 2 reading at most LIST_EXACT_COUNT_LIMIT + 1 rows."""

    def __init__(self, *parts, whole=None):
        self.parts = parts
        self.whole = whole
        self.estimated = False
        # Each part's (count, estimated), as count() or a slice learnt it.
        self.sizes: dict[int, tuple[int, bool]] = {}

    def count(self) -> int:
        # list_count asks the planner about the filter alone (planner_estimate).
        if self.whole is not None:
            n, self.estimated = list_count(self.whole)
            return n
        self.sizes = {index: list_count(part) for index, part in enumerate(self.parts)}
        self.estimated = any(estimated for _n, estimated in self.sizes.values())
        return sum(n for n, _estimated in self.sizes.values())

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step is not None or key.stop is None:
            raise TypeError("QuerysetChain reads slices with a start and a stop only")
        start, stop = key.start or 0, key.stop
        rows, base = [], 0
        for index, part in enumerate(self.parts):
            if stop <= base:
                break
            low = max(start - base, 0)
            if low:
                if index not in self.sizes:
                    self.sizes[index] = list_count(part)
                n, estimated = self.sizes[index]
                if estimated and low >= n:
                    n = part.values("pk").order_by().count()
                if low >= n:
                    # The page starts past this part: its rows are not read.
                    base += n
                    continue
            got = page_slice(part, low, stop - base)
            rows += got
            if len(got) == stop - base - low:
                break
            # The part ended before the slice did: the next begins where it ended.
            if got:
                base += low + len(got)
            elif low:
                base += part.values("pk").order_by().count()
        return rows
