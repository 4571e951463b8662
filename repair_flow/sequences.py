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


def sequence_take(model, *, year: int, count: int, **key: str) -> range:
    """`count` consecutive serials of (key, year) at once, as `sequence_next`
    takes one (same lock, same give-back on rollback)."""
    ((column, value),) = key.items()
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(column).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({column}, year, last) VALUES (%s, %s, %s)"  # noqa: S608
            f" ON CONFLICT ({column}, year) DO UPDATE SET last = {table}.last + %s RETURNING last",
            [value, year, count, count],
        )
        last = cursor.fetchone()[0]
    return range(last - count + 1, last + 1)
