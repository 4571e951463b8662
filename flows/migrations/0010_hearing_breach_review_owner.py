"""Data: the hearing's owner and the bar (split from the schema migration:
on PostgreSQL, rows updated in a migration's transaction block the indexes
its schema changes create at the end)."""

from django.db import migrations

BAR_OFF = (
    "撤销修复后的再申请限制已停用（《信用修复管理办法》第二条：只有法律、行政法规和党中央、"
    "国务院政策文件可以排除信用修复）；管理员写明依据后方可启用。"
)


def forward(apps, schema_editor):
    """A review belongs to the department that made the repair decision (the
    repaired record's issuer): reviews not decided yet move to it, with their
    running clocks; decided ones keep the department that decided them. The
    bar after a revocation is switched off in every policy until an
    administrator enters its legal basis (it ships disabled)."""
    BreachReview = apps.get_model("flows", "BreachReview")
    SlaClock = apps.get_model("sla", "SlaClock")
    ContentType = apps.get_model("contenttypes", "ContentType")
    review_type = ContentType.objects.filter(app_label="flows", model="breachreview").first()
    for review in BreachReview.objects.filter(status="open").select_related("case__record"):
        owner = review.case.record.department_id
        if review.department_id == owner:
            continue
        review.department_id = owner
        review.save(update_fields=["department"])
        if review_type is not None:
            SlaClock.objects.filter(
                case_type=review_type, case_id=review.pk, stopped_at=None
            ).update(department_id=owner)
    MonitoringPolicy = apps.get_model("flows", "MonitoringPolicy")
    for policy in MonitoringPolicy.objects.filter(bar_enabled=False):
        policy.note = f"{policy.note}\n{BAR_OFF}".strip()
        policy.save(update_fields=["note"])


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0009_hearing_breach_review"),
        ("sla", "0010_hearing_statement_period"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
