"""The letters list's search: a letter's or its case's number by its
beginning (LIKE 'q%', issue 18), the pattern operator class on PostgreSQL;
other databases ignore the operator class."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("letters", "0011_letter_list_order"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="letter",
            index=models.Index(
                fields=["number"], name="letter_number_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="letter",
            index=models.Index(
                fields=["case_label"],
                name="letter_case_label_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
    ]
