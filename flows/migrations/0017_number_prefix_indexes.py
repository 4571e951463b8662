"""Case numbers searched by their beginning (LIKE 'q%', the task queue's and
the breach reviews' search, issue 18): the pattern operator class on
PostgreSQL, as the records' decision numbers have; other databases ignore the
operator class."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0016_breach_review_clock_join"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="objectioncase",
            index=models.Index(
                fields=["number"], name="objection_number_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="repaircase",
            index=models.Index(
                fields=["number"], name="repaircase_number_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ),
    ]
