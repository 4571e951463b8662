"""Default SLA policies: shared domain reference section 5."""

import datetime as dt

from django.db import migrations

SINCE = dt.date(2000, 1, 1)
# stage, rule, n, legal basis, unconfirmed
DEFAULTS = [
    ("preliminary_review", "same_day", None,
     "济南市信用修复“一网通办”工作方案：当天完成初审（16:00 截止、17:00 下班为产品默认值）", False),
    ("supplement", "working_days", 10, "产品默认值：申请人 10 个工作日内补正，逾期视为撤回", False),
    ("acceptance", "working_days", 2, "材料齐全后 2 个工作日内作出受理决定", True),
    ("commitment", "working_days", 5, "产品默认值：受理后 5 个工作日内签署信用承诺书", True),
    ("department_review", "working_days", 5, "产品默认值：认定单位 5 个工作日内完成审核", False),
    ("whole_decision", "working_days", 10, "“信用中国”实践（2024 年地方指引）：受理后 10 个工作日内作出修复决定", False),
    ("sync", "working_days", 3, "地方指引：决定作出后 3 个工作日内同步至其他平台", False),
    ("objection_own", "working_days", 3, "《山东省社会信用条例》第三十九条：3 个工作日", False),
    ("objection_other", "working_days", 7, "《山东省社会信用条例》第三十九条：需其他单位核实的 7 个工作日", False),
    ("record_change", "working_days", 3, "《山东省社会信用条例》第四十条：决定撤销或变更后 3 个工作日内变更记录", False),
]


def load(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    for stage, rule, n, basis, unconfirmed in DEFAULTS:
        warn_to = ["assignee", "supervisors"] if stage == "preliminary_review" else ["assignee"]
        SlaPolicy.objects.create(
            stage=stage, rule=rule, n=n, warn_percent_1=50, warn_percent_2=75,
            warn_to=warn_to, escalate_to=["supervisors"], legal_basis=basis,
            unconfirmed=unconfirmed, effective_from=SINCE,
        )


def unload(apps, schema_editor):
    apps.get_model("sla", "SlaPolicy").objects.filter(effective_from=SINCE).delete()


class Migration(migrations.Migration):
    dependencies = [("sla", "0003_sla_engine")]
    operations = [migrations.RunPython(load, unload)]
