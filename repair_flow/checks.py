"""System checks. `manage.py check` (and every server start, `migrate` included)
refuses to run without the audit chain's keys: an event that cannot be sealed
would fail every write, and an unkeyed chain can be re-sealed by anyone with
SQL access. Settings that name data the database defines are checked too."""

from django.conf import settings
from django.core.checks import Error, register

from repair_flow.models import AccessPurpose


@register()
def integration_purposes_check(app_configs, **kwargs) -> list[Error]:
    """Every purpose in INTEGRATION_ACCESS_PURPOSES is one the register knows."""
    return [
        Error(
            f"INTEGRATION_ACCESS_PURPOSES: {username}={purpose!r} is not a purpose; use one "
            f"of {', '.join(AccessPurpose.values)}",
            id="repair_flow.E004",
        )
        for username, purpose in settings.INTEGRATION_ACCESS_PURPOSES.items()
        if purpose not in AccessPurpose.values
    ]


@register()
def audit_keys_check(app_configs=None, **kwargs):
    problems = []
    if not settings.AUDIT_CHAIN_KEY:
        problems.append(
            Error(
                "未配置审计日志链密钥（AUDIT_CHAIN_KEY 或 AUDIT_CHAIN_KEY_FILE）。",
                hint="生成一个随机密钥，保存在数据库以外；核验审计日志也需要它。",
                id="repair_flow.E001",
            )
        )
    if not settings.AUDIT_ANCHOR_KEY:
        problems.append(
            Error(
                "未配置审计日志锚定签名密钥（AUDIT_ANCHOR_KEY 或 AUDIT_ANCHOR_KEY_FILE）。",
                hint="与审计日志链密钥不同的另一个随机密钥。",
                id="repair_flow.E002",
            )
        )
    if settings.AUDIT_CHAIN_KEY and settings.AUDIT_CHAIN_KEY == settings.AUDIT_ANCHOR_KEY:
        problems.append(
            Error(
                "审计日志锚定签名密钥不得与链密钥相同。",
                id="repair_flow.E003",
            )
        )
    return problems


@register()
def field_encryption_keys_check(app_configs=None, **kwargs):
    """Personal data cannot be written without its keys (repair_flow/encryption.py)."""
    problems = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        problems.append(
            Error(
                "未配置个人信息加密密钥（FIELD_ENCRYPTION_KEYS 或 FIELD_ENCRYPTION_KEYS_FILE）。",
                hint="生成 32 字节随机密钥（manage.py rotate_keys --new-key），以 base64 填写，"
                "保存在数据库以外；多个密钥以逗号分隔，第一个为当前密钥。",
                id="repair_flow.E005",
            )
        )
    if not settings.FIELD_BLIND_INDEX_KEYS:
        problems.append(
            Error(
                "未配置证件号码检索索引密钥"
                "（FIELD_BLIND_INDEX_KEYS 或 FIELD_BLIND_INDEX_KEYS_FILE）。",
                hint="与加密密钥不同的另一个 32 字节随机密钥。",
                id="repair_flow.E006",
            )
        )
    if set(settings.FIELD_ENCRYPTION_KEYS) & set(settings.FIELD_BLIND_INDEX_KEYS):
        problems.append(Error("检索索引密钥不得与加密密钥相同。", id="repair_flow.E007"))
    return problems
