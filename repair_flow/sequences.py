"""Gap-free yearly numbering (letters' 文号, cases' 申请编号)."""

from django.db import connection


def sequence_next(model, *, kind: str, year: int) -> int:
    """The next serial of (kind, year) in `model`'s table (columns kind, year,
    last, unique on kind and year), in the caller's transaction.

    One upsert: it creates the year's row or increments it and returns the
    new value, holding the row lock until the caller's transaction ends, so
    concurrent issuers queue on it and a rolled-back one gives its number
    back: no gap, no duplicate.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, year, last) VALUES (%s, %s, 1)"  # noqa: S608
            f" ON CONFLICT (kind, year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [kind, year],
        )
        return cursor.fetchone()[0]
