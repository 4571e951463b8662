"""Every clock of a department's or the applicant's stage carries the issuing
department (the board read nine of eleven open clocks as 未指定认定单位); the
platform's own stages stay without one (sla.models.PLATFORM_STAGES)."""

from django.db import migrations

PLATFORM_STAGES = ("preliminary_review", "acceptance", "sync", "objection_own")


def fill(apps, schema_editor):
    SlaClock = apps.get_model("sla", "SlaClock")
    ContentType = apps.get_model("contenttypes", "ContentType")
    clocks = SlaClock.objects.filter(department__isnull=True).exclude(stage__in=PLATFORM_STAGES)
    for type_id in clocks.values_list("case_type_id", flat=True).distinct():
        ct = ContentType.objects.get(pk=type_id)
        model = apps.get_model(ct.app_label, ct.model)
        fields = {f.name for f in model._meta.get_fields()}
        path = "department_id" if "department" in fields else "record__department_id"
        ids = clocks.filter(case_type_id=type_id).values_list("case_id", flat=True).distinct()
        departments = dict(model.objects.filter(pk__in=list(ids)).values_list("pk", path))
        for case_id, department_id in departments.items():
            if department_id is not None:
                clocks.filter(case_type_id=type_id, case_id=case_id).update(
                    department_id=department_id
                )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0010_hearing_statement_period"),
        ("flows", "0012_attest_objection_signer_capacity"),
        ("records", "0011_decision_change_source_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
