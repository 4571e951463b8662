"""Default issuing body, number prefixes and remedies per letter kind.

The issuer is a product default for the model customer; an administrator sets
the real body in the admin. The remedies' periods are the law's:
Administrative Reconsideration Law (2023) Art. 20 (60 days) and
Administrative Litigation Law Art. 46 (6 months).
"""

from django.db import migrations

ISSUER = "济南市公共信用信息平台"
REMEDIES = (
    "如不服本决定，可以自收到本文书之日起六十日内依法申请行政复议，"
    "或者自收到本文书之日起六个月内依法向人民法院提起行政诉讼。"
)
DEFAULTS = [
    ("acceptance", "济信修受", ""),
    ("refusal_to_accept", "济信修不受", REMEDIES),
    ("supplement", "济信修补", ""),
    ("repair_decision", "济信修决", ""),
    ("repair_refusal", "济信修不决", REMEDIES),
    ("objection_result", "济信异", REMEDIES),
    ("revocation", "济信修撤", REMEDIES),
    ("commitment", "济信诺", ""),
]


def load(apps, schema_editor):
    LetterSetting = apps.get_model("letters", "LetterSetting")
    for kind, prefix, remedies in DEFAULTS:
        LetterSetting.objects.update_or_create(
            kind=kind, defaults={"issuer": ISSUER, "number_prefix": prefix, "remedies": remedies}
        )


class Migration(migrations.Migration):
    dependencies = [("letters", "0001_letters_commitments_outbox")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
