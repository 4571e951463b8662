"""Gap-free yearly numbering (letters' 文号, cases' 申请编号)."""

from django.db import connection


def sequence_next(model, *, year: int, **key: str) -> int:
    """The next serial of (key, year) in `model`'s table (columns: the one
    key column named by the keyword, e.g. kind= or prefix=, year and last;
    unique on the key and year), in the caller's transaction.

    One upsert: it creates the year's row or increments it and returns the
    new value, holding the row lock until the caller's transaction ends, so
    concurrent issuers queue on it and a rolled-back one gives its number
    back: no gap, no duplicate.
    """
    ((column, value),) = key.items()
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(column).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({column}, year, last) VALUES (%s, %s, 1)"  # noqa: S608
            f" ON CONFLICT ({column}, year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [value, year],
        )
        return cursor.fetchone()[0]


def sequence_take_many(
    model, *, year: int, counts: dict[str, int], column: str
) -> dict[str, range]:
    """`counts[value]` consecutive serials for each key `value` of `column`
    (e.g. column="prefix"), all in one statement: a batch of letters reserves
    its numbers in one round trip whatever the number of series it spans.

    Same guarantees as `sequence_next`: each row stays locked until the
    caller's transaction ends, and a rollback gives the numbers back. The rows
    are written in key order, so two batches that span the same series lock
    them in the same order and never deadlock each other.
    """
    counts = {value: count for value, count in sorted(counts.items()) if count > 0}
    if not counts:
        return {}
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = connection.ops.quote_name(model._meta.get_field(column).column)
    rows = ", ".join(["(%s, %s, %s)"] * len(counts))
    params = [item for value, count in counts.items() for item in (value, year, count)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quoted}, year, last) VALUES {rows}"  # noqa: S608
            f" ON CONFLICT ({quoted}, year) DO UPDATE SET last = {table}.last + excluded.last"
            f" RETURNING {quoted}, last",
            params,
        )
        # RETURNING's order is not promised (SQLite): match the rows by key.
        last = dict(cursor.fetchall())
    return {
        value: range(last[value] - count + 1, last[value] + 1) for value, count in counts.items()
    }
