"""`manage.py check` (and every server start) says what is wrong with the
signing keys before the first letter waits for one (letters/signing.py)."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register

from letters import signing


@register()
def signing_keys_check(app_configs=None, **kwargs):
    problems = []
    for name, configured in sorted(settings.LETTER_SIGNING_KEYS.items()):
        source = signing.KeySource(
            Path(configured["p12"]),
            configured.get("passphrase") or "",
            f"LETTER_SIGNING_{name}_P12",
        )
        try:
            signing.load_signer(source)
        except signing.SigningUnavailable as exc:
            problems.append(Error(str(exc), id="letters.E001"))
    centre = signing.env_name(signing.DEFAULT_ISSUER_CODE)
    if not settings.LETTER_SIGNING_DEMO and centre not in settings.LETTER_SIGNING_KEYS:
        problems.append(
            Warning(
                f"未配置信用信息中心的签名证书（LETTER_SIGNING_{centre}_P12）："
                "文书不会出具，直到配置为止。",
                id="letters.W001",
            )
        )
    if not settings.LETTER_SIGNING_DEMO and not settings.LETTER_SIGNING_TRUST_ROOTS:
        problems.append(
            Warning(
                "未配置信任根证书（LETTER_SIGNING_TRUST_ROOTS）：核验时每个签名都将显示为不受信任。",
                id="letters.W002",
            )
        )
    for path in settings.LETTER_SIGNING_TRUST_ROOTS:
        if not Path(path).is_file():
            problems.append(
                Error(
                    f"信任根证书文件 {path} 不存在（LETTER_SIGNING_TRUST_ROOTS）。",
                    id="letters.E002",
                )
            )
    return problems
