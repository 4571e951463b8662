"""The two publicity rule sets of shared domain reference section 2, as data."""

import datetime as dt

from django.db import migrations

EXCLUDED_SECTORS = ["food_drug", "environment", "construction", "work_safety", "fire_safety"]
NON_REPAIRABLE = [
    ("production_suspension", "责令停产停业", False),
    ("business_restriction", "限制开展生产经营活动", False),
    ("occupation_ban", "限制从业", False),
    ("qualification_downgrade", "降低资质等级", False),
    ("licence_revocation", "吊销许可证件、营业执照", False),
    ("closure", "责令关闭", True),
]
NON_REPAIRABLE_BASIS = "市场监管总局令第45号第十四条；国家“特定严重失信行为”名单"

RULE_SETS = [
    {
        "code": "ndrc-order-36-2025",
        "name": "《信用修复管理办法》（国家发展改革委令2025年第36号）",
        "legal_basis": "《信用修复管理办法》（国家发展改革委令2025年第36号）；国办发〔2025〕22号",
        "effective_from": dt.date(2026, 4, 1),
        "effective_to": None,
        "periods": [
            ("minor", True, 0, 3, False, "一般不予公示；确需公示的最长3个月，履行义务后即可修复"),
            ("general", True, 3, 12, False, ""),
            ("serious", True, 12, 36, False, ""),
        ],
    },
    {
        "code": "ndrc-order-58-2023",
        "name": "《失信行为纠正后的信用信息修复管理办法（试行）》（国家发展改革委令2023年第58号）及此前地方实践",
        "legal_basis": "国家发展改革委令2023年第58号及地方实践",
        "effective_from": dt.date(2000, 1, 1),
        "effective_to": dt.date(2026, 3, 31),
        "periods": [
            ("minor", False, 0, 0, False, "轻微失信信息不予公示"),
            ("general", True, 3, 12, True, "部分城市曾采用最长3年"),
            ("serious", True, 6, 36, False, ""),
        ],
    },
]


def load(apps, schema_editor):
    RuleSet = apps.get_model("records", "PublicityRuleSet")
    Period = apps.get_model("records", "PublicityPeriod")
    Rule = apps.get_model("records", "NonRepairableRule")
    for spec in RULE_SETS:
        rs = RuleSet.objects.create(
            code=spec["code"], name=spec["name"], legal_basis=spec["legal_basis"],
            effective_from=spec["effective_from"], effective_to=spec["effective_to"],
        )
        for severity, published, min_m, max_m, unconfirmed, note in spec["periods"]:
            Period.objects.create(
                rule_set=rs, severity=severity, published=published, min_months=min_m,
                max_months=max_m, unconfirmed=unconfirmed, note=note,
            )
        for penalty_type, label, unconfirmed in NON_REPAIRABLE:
            Rule.objects.create(
                rule_set=rs, penalty_type=penalty_type, sectors=EXCLUDED_SECTORS,
                reason=f"食品药品、生态环境、工程质量、安全生产、消防安全领域的“{label}”处罚，公示期满方可停止公示。",
                legal_basis=NON_REPAIRABLE_BASIS, unconfirmed=unconfirmed,
            )


def unload(apps, schema_editor):
    apps.get_model("records", "PublicityRuleSet").objects.filter(
        code__in=[s["code"] for s in RULE_SETS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("records", "0002_initial")]
    operations = [migrations.RunPython(load, unload)]
