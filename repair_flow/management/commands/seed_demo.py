"""A demo city: Jinan departments, a few hundred subjects, a few thousand
penalty records, and one account of each role. Everything goes through the
same services as real use, so the demo has its audit trail too."""

import datetime as dt
import random

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from flows.cases.common import case_commitment
from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import CLOSED_STATUSES, BreachReview, ObjectionScope, RepairCase
from flows.monitoring.services import breach_notice_issue
from flows.objections.services import (
    UNVERIFIABLE_REASONS,
    objection_accept,
    objection_draft_save,
    objection_submit,
    objection_unverifiable,
    verification_claim,
)
from flows.repair.services import (
    case_commitment_sign,
    department_review_approve,
    department_review_claim,
    preliminary_review_accept,
    repair_case_draft_save,
    repair_case_submit,
    required_materials,
)
from letters import signing
from letters.issuers import (
    ISSUER_SERIES,
    default_prefix,
    department_issuer,
    institution_issuer,
    issuer_contact_set,
    issuer_prefixes_set,
    issuer_seal_set,
)
from letters.models import IssuerKind
from letters.services import letter_render
from letters.specimen import specimen_seal_png
from records.identifiers import make_resident_id, make_uscc
from records.models import (
    BindingCapacity,
    CreditRecord,
    DepartmentMembership,
    RecordStatus,
    Sector,
    Subject,
    SubjectBinding,
)
from records.publicity import Eligibility, RecordFacts, answer, load_rule_sets
from records.services import (
    department_upsert,
    record_status_set,
    records_expire_due,
    records_ingest,
    subject_legal_representative_set,
)
from repair_flow.accounts import account_create
from repair_flow.celery import task_named
from repair_flow.logs import info_to_file
from repair_flow.models import Role, User

# A minimal PDF: every demo material is this one file.
DEMO_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

DEMO_PASSWORD = "jinan-demo-2026"  # noqa: S105 - demo only; seed_demo refuses production

DEPARTMENTS = [
    ("JNSCJG", "济南市市场监督管理局", Sector.FOOD_DRUG, "济市监罚"),
    ("JNSTHJ", "济南市生态环境局", Sector.ENVIRONMENT, "济环罚"),
    ("JNZJJ", "济南市住房和城乡建设局", Sector.CONSTRUCTION, "济建罚"),
    ("JNYJGL", "济南市应急管理局", Sector.WORK_SAFETY, "济应急罚"),
    ("JNXFJY", "济南市消防救援支队", Sector.FIRE_SAFETY, "济消行罚决字"),
    ("JNSWJ", "国家税务总局济南市税务局", Sector.OTHER, "济税罚"),
    ("JNJTYS", "济南市交通运输局", Sector.OTHER, "济交运罚"),
    ("JNWJW", "济南市卫生健康委员会", Sector.OTHER, "济卫罚"),
    ("JNCGJ", "济南市城市管理局", Sector.OTHER, "济城管罚"),
    ("JNRSJ", "济南市人力资源和社会保障局", Sector.OTHER, "济人社监罚"),
    ("JNZRZY", "济南市自然资源和规划局", Sector.OTHER, "济自然资罚"),
]


# Each demo department's own contact for its letters, not the centre's
# 12345: the office that handles credit repair, marked 演示, and a made-up
# number in Jinan's 0531 area (8 digits), one per department.
def demo_contact(index: int, name: str) -> tuple[str, str]:
    return f"{name}信用修复窗口（演示）", f"0531-6600{index + 1:04d}"


DISTRICTS = [
    "历下",
    "市中",
    "槐荫",
    "天桥",
    "历城",
    "长清",
    "章丘",
    "济阳",
    "莱芜",
    "钢城",
    "平阴",
    "商河",
]
BRANDS = [
    "泉城",
    "鲁信",
    "华泰",
    "恒通",
    "齐鲁",
    "明湖",
    "舜耕",
    "千佛",
    "趵突",
    "泺源",
    "华山",
    "黄河",
    "鹊华",
    "济福",
    "润丰",
    "康达",
    "新元",
    "金泽",
    "宏业",
    "正和",
]
TRADES = [
    "食品",
    "建筑工程",
    "环保科技",
    "物流",
    "餐饮管理",
    "医药连锁",
    "化工",
    "商贸",
    "机械制造",
    "运输",
    "装饰工程",
    "农产品",
    "酒店管理",
    "电子科技",
    "物业服务",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "强",
    "洋",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "建华",
    "志强",
    "海燕",
    "丽华",
    "晓东",
]
FACTS = {
    "minor": ["未按规定公示年度报告信息，经责令后已改正。", "经营场所未按规定悬挂营业执照。"],
    "general": [
        "生产经营标签不符合规定的食品。",
        "未按规定落实扬尘污染防治措施。",
        "未依法取得许可从事道路货物运输经营。",
        "未按规定为劳动者缴纳社会保险费。",
        "超过污染物排放标准排放大气污染物。",
    ],
    "serious": [
        "生产经营添加非食用物质的食品，情节严重。",
        "未经消防验收擅自投入使用，造成严重后果。",
        "发生一般生产安全事故，负有责任。",
        "偷税，数额较大。",
    ],
}

# The department of the demo's `reviewer`.
SHOWCASE_DEPARTMENT = "JNSCJG"
# Records the demo's stories need, whatever the random rows hold: (subject,
# index in DEPARTMENTS, severity, penalty types, days before today). Subjects
# 0 and 1 are the enterprises of qiye and daili, "person" is geren. One record
# of each kind of answer (eligible, not yet, never, expired), and eligible
# JNSCJG records for the cases waiting in and approved by reviewer's
# department review (a general penalty: repairable after 3 months, published
# for a year).
SHOWCASE = [
    (0, 0, "general", ["fine"], 200),
    (0, 2, "serious", ["fine"], 120),
    (0, 0, "serious", ["fine", "licence_revocation"], 500),
    (1, 1, "general", ["warning"], 30),
    (1, 5, "general", ["fine", "confiscation"], 420),
    (0, 0, "general", ["fine"], 150),
    ("person", 0, "general", ["fine"], 180),
]


class Command(BaseCommand):
    help = "Seed the demo (departments, subjects, records, one account of each role)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already has data"
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="seed a staging database that runs with DJANGO_ENV=production "
            "(never one real people use: every demo account has the same known password)",
        )
        parser.add_argument("--records", type=int, default=3000)
        parser.add_argument("--subjects", type=int, default=300)

    def handle(self, *args, **options):
        # The seeding's INFO lines (each PDF's progress, each task) go to a
        # file, so the accounts and pointers printed last stay on screen;
        # warnings and errors still show. Celery's first task lookup sets
        # Django up again, which rebuilds the logging: done before, not inside.
        task_named("letters.render")
        with info_to_file(self.log_path()):
            self.seed(**options)

    def log_path(self):
        return settings.VAR_DIR / "seed_demo.log"

    def seed(self, *, if_empty, records, subjects, allow_production=False, **options):
        # A production database holds real people's data and accounts: the
        # demo's shared password must never reach it by accident. A staging
        # copy of the scale-out stack (and `make load`) asks for it explicitly.
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "seed_demo is for development only (DJANGO_ENV=production); "
                "for a staging database pass --allow-production"
            )
        if CreditRecord.objects.exists() or User.objects.exists():
            if if_empty:
                self.stdout.write("Demo data already present; not seeding again.")
                self.print_accounts()
                return
            raise CommandError("the database is not empty; use a fresh database for the demo")
        # Letters are signed as they are rendered below: the demo CA and the
        # institution's 样章 certificate first (var/signing/, unless configured).
        # (A department's certificate is made with its first letter.)
        institution = institution_issuer()
        made = signing.demo_setup(issuers={institution.code: institution.name})
        rng = random.Random(2026)
        today = timezone.localdate()
        with transaction.atomic():
            departments = [
                department_upsert(actor="seed_demo", code=code, name=name, sector=sector)
                for code, name, sector, _prefix in DEPARTMENTS
            ]
            self.set_up_issuers(departments)
            rows = list(self.generate_rows(rng, today, records, subjects))
            result = records_ingest(
                rows=enumerate(rows, start=1), actor="seed_demo", source="seed_demo"
            )
            if result.rejected:
                raise CommandError(f"demo rows rejected: {result.rejected[:3]}")
            expired = records_expire_due(actor="seed_demo", today=today)
            self.change_some_statuses(rng, result.ids)
            self.name_legal_representatives(rng)
            self.create_accounts(departments)
            commitment = self.open_a_commitment(today)
            queued = self.fill_the_queues(today)
            awaiting_review = self.accept_for_department_review(today)
        reviewed = self.review(awaiting_review)
        with transaction.atomic():
            objected = self.file_an_objection()
            told = self.tell_subjects_of_new_penalties(today)
            breached = self.report_a_new_penalty(today)
        self.stdout.write(
            f"Seeded {len(departments)} departments, {Subject.objects.count()} subjects, "
            f"{result.created} records ({expired} past their publicity period marked expired)."
        )
        self.stdout.write(f"The seeding's log: {self.log_path()}")
        self.print_accounts()
        if settings.PRODUCTION:
            self.stderr.write(
                f"Staging only: every demo account's password is {DEMO_PASSWORD}; "
                "never let real people use this database."
            )
        if made:
            self.stdout.write(
                f"Letters are signed with demo certificates (样章, not valid for real use) "
                f"under {made[0].parent}; /verify/<code> trusts its demo-ca.pem."
            )
        if commitment is not None:
            self.stdout.write(
                "  qiye has a draft filing whose credit commitment is to be read and signed "
                f"before submitting: /letters/commitments/{commitment.pk}/"
            )
        for line in told + queued + reviewed + objected + breached:
            self.stdout.write(f"  {line}")

    def set_up_issuers(self, departments) -> None:
        """Each demo issuer gets a specimen seal (样章: no demo letter can pass
        for a real one) and each department its number prefixes from the
        代字 of its penalty decisions (济市监罚 -> 济市监信修决)."""
        issuers = [institution_issuer()]
        for department, (_code, _name, _sector, prefix) in zip(
            departments, DEPARTMENTS, strict=True
        ):
            issuer = department_issuer(department)
            office, phone = demo_contact(len(issuers) - 1, department.name)
            issuer_contact_set(issuer=issuer, office=office, phone=phone, actor="seed_demo")
            code = prefix.split("罚")[0]
            issuer_prefixes_set(
                issuer=issuer,
                prefixes={
                    series: default_prefix(code, series)
                    for series in ISSUER_SERIES[IssuerKind.DEPARTMENT]
                },
                actor="seed_demo",
            )
            issuers.append(issuer)
        for issuer in issuers:
            if not issuer.seal:
                issuer_seal_set(
                    issuer=issuer,
                    data=specimen_seal_png(issuer.name),
                    filename=f"{issuer.code}-specimen.png",
                    actor="seed_demo",
                )

    def file_an_objection(self) -> list[str]:
        """daili objects to two records of its first enterprise that no case
        holds, both accepted by `officer` and routed to the issuing department
        when it has a demo reviewer: the first is being checked, so its record
        shows 异议处理中; the second could not be verified (无法核实), so its
        record stays with the note on it."""
        daili = User.objects.get(username="daili")
        officer = User.objects.get(username="officer")
        binding = daili.subject_bindings.order_by("id").first()
        reviewed = set(DepartmentMembership.objects.values_list("department_id", flat=True))
        held = RepairCase.objects.exclude(status__in=CLOSED_STATUSES).values("record_id")
        records = list(
            binding.subject.records.filter(status=RecordStatus.PUBLISHED)
            .exclude(pk__in=held)
            .order_by("-decision_date", "id")[:2]
        )
        lines = []
        for n, record in enumerate(records):
            case = self.object_to(applicant=daili, officer=officer, binding=binding, record=record)
            department = record.department_id in reviewed
            scope = ObjectionScope.DEPARTMENT if department else ObjectionScope.PLATFORM
            objection_accept(officer=officer, case=case, scope=scope)
            if n == 0:
                lines.append(
                    f"{case.number} (an objection) is being checked; the record shows 异议处理中"
                )
                continue
            verifier = (
                DepartmentMembership.objects.filter(department_id=record.department_id)
                .order_by("id")
                .first()
                .user
                if department
                else officer
            )
            verification_claim(user=verifier, case=case)
            objection_unverifiable(
                verifier=verifier,
                case=case,
                reasons=[str(UNVERIFIABLE_REASONS[0][1])],
                basis="《山东省社会信用条例》第三十九条",
            )
            lines.append(
                f"{case.number} (an objection) could not be verified (无法核实): record "
                f"{record.decision_number} stays, with the note on it"
            )
        return lines

    def object_to(self, *, applicant, officer, binding, record):
        """An objection filed on `record` with its evidence, claimed for preliminary review."""
        case = objection_draft_save(
            applicant=applicant,
            record=record,
            grounds=["error"],
            statement="处罚决定书载明罚款金额与公示金额不一致，请予更正。",
            capacity=binding.capacity,
        )
        for kind in ("evidence", "power_of_attorney"):
            case_material_add(
                case=case,
                user=applicant,
                kind=kind,
                upload=SimpleUploadedFile(f"{kind}.pdf", DEMO_PDF, content_type="application/pdf"),
            )
        # Attested as the logged-in account in its binding's capacity (daili:
        # 受托人 under the power of attorney just uploaded).
        case = objection_submit(applicant=applicant, case=case, confirmed=True)
        preliminary_review_claim(officer=officer, case=case)
        return case

    def name_legal_representatives(self, rng):
        """Every enterprise has one; qiye (张伟) is the first enterprise's."""
        enterprises = Subject.objects.filter(kind="enterprise").order_by("id")
        for index, subject in enumerate(enterprises):
            name = "张伟" if index == 0 else rng.choice(SURNAMES) + rng.choice(GIVEN)
            subject_legal_representative_set(actor="seed_demo", subject=subject, name=name)

    def open_a_commitment(self, today):
        """qiye's repair filing, a draft with its proof of performance and the
        credit commitment generated from it, waiting for qiye to read and sign
        it before submitting (the commitment is part of the application)."""
        qiye = User.objects.get(username="qiye")
        binding = qiye.subject_bindings.get()
        rule_sets = load_rule_sets()
        for record in binding.subject.records.order_by("decision_date"):
            if answer(RecordFacts.of(record), rule_sets, today).eligibility == Eligibility.ELIGIBLE:
                break
        else:
            return None
        case = repair_case_draft_save(
            applicant=qiye,
            record=record,
            details="罚款已于规定期限内缴清，违法行为已整改完毕，申请信用修复。",
            capacity=binding.capacity,
        )
        case_material_add(
            case=case,
            user=qiye,
            kind="performance_proof",
            upload=SimpleUploadedFile("罚款缴纳凭证.pdf", DEMO_PDF, content_type="application/pdf"),
        )
        commitment = case_commitment(case)
        letter_render(letter_id=commitment.draft_id)
        return commitment

    def fill_the_queues(self, today) -> list[str]:
        """daili (an agent) files for its two enterprises under a power of
        attorney, signing each commitment as agent (受托人：李娜（代理 …）):
        one case waits in the officers' queue, one for its one-time supplement."""
        daili = User.objects.get(username="daili")
        officer2 = User.objects.get(username="officer2")
        rule_sets = load_rule_sets()
        lines = []
        for step, binding in zip(
            ("queue", "supplement"), daili.subject_bindings.order_by("id"), strict=False
        ):
            record = next(
                (
                    r
                    for r in binding.subject.records.order_by("decision_date")
                    if answer(RecordFacts.of(r), rule_sets, today).eligibility
                    == Eligibility.ELIGIBLE
                ),
                None,
            )
            if record is None:
                continue
            case = self.file_a_case(
                applicant=daili,
                binding=binding,
                record=record,
                details="受企业委托申请信用修复，罚款已缴清。",
            )
            signed = (
                f"its commitment signed {case_commitment(case).signed.facts['signature']['block']}"
            )
            if step == "queue":
                lines.append(f"{case.number} waits in the officers' queue, {signed}: /cases/tasks/")
                continue
            preliminary_review_claim(officer=officer2, case=case)
            supplement_request(
                officer=officer2,
                case=case,
                items=[
                    {
                        "material": "performance_proof",
                        "name": "罚款缴纳凭证",
                        "problem": "凭证金额与处罚决定书不一致，请提供银行回单。",
                    }
                ],
            )
            lines.append(f"{case.number} waits for daili's supplement, {signed}: /cases/{case.pk}/")
        return lines

    def accept_for_department_review(self, today) -> list[tuple[str, object]]:
        """Two more cases on records of 济南市市场监督管理局 (JNSCJG, the
        department of `reviewer`), filed and accepted by `officer`: qiye's
        second record will wait in reviewer's queue, geren's will be approved.
        Each commitment was signed with its filing. Returns (step, case) pairs.

        geren's, not a third one of qiye's or daili's: an approved repair bars
        the subject's other repairs for a year (flows/cases/limits.py), so the
        approved case is the only case of its subject."""
        officer = User.objects.get(username="officer")
        rule_sets = load_rule_sets()
        cases = []
        for step, username in (("department_queue", "qiye"), ("approved", "geren")):
            applicant = User.objects.get(username=username)
            binding = applicant.subject_bindings.select_related("subject").get()
            record = next(
                (
                    r
                    for r in binding.subject.records.filter(
                        department__code=SHOWCASE_DEPARTMENT, repair_cases__isnull=True
                    ).order_by("decision_date")
                    if answer(RecordFacts.of(r), rule_sets, today).eligibility
                    == Eligibility.ELIGIBLE
                ),
                None,
            )
            if record is None:
                continue
            case = self.file_a_case(
                applicant=applicant,
                binding=binding,
                record=record,
                details="罚款已于规定期限内缴清，违法行为已整改完毕，申请信用修复。",
            )
            preliminary_review_claim(officer=officer, case=case)
            preliminary_review_accept(officer=officer, case=case)
            cases.append((step, case))
        return cases

    def review(self, cases) -> list[str]:
        """`reviewer` claims geren's case and approves it: decision letter,
        record repaired, monitoring window and sync event; qiye's waits in the
        queue."""
        reviewer = User.objects.get(username="reviewer")
        lines = []
        for step, case in cases:
            if step == "department_queue":
                lines.append(
                    f"{case.number} waits in reviewer's department review queue: /cases/tasks/"
                )
                continue
            with transaction.atomic():
                department_review_claim(reviewer=reviewer, case=case)
                department_review_approve(
                    reviewer=reviewer,
                    case=case,
                    basis="《信用修复管理办法》（国家发展改革委令2025年第36号）",
                )
            # geren's is a natural person's record (Shandong Art. 20): shared
            # between authorities, never published; its repair ends that use.
            what = (
                "a natural person's record, no longer shared as a negative record"
                if case.subject.is_person
                else "record repaired"
            )
            lines.append(
                f"{case.number} was approved by reviewer ({what}, monitored): /cases/{case.pk}/"
            )
        return lines

    def tell_subjects_of_new_penalties(self, today) -> list[str]:
        """两书同送 in the demo: today's penalties of two subjects with no
        account (an enterprise and a person), sent with their contact email
        and mobile number, so the import marks their credit-repair notices
        due. `make run`'s scheduler issues them within a minute and the
        console shows each email and text; the seeding itself sends nothing
        (it stays quiet, the accounts last)."""
        bound = SubjectBinding.objects.values("subject_id")
        unbound = Subject.objects.exclude(pk__in=bound).order_by("id")
        subjects = [
            *unbound.filter(kind="enterprise")[:1],
            *unbound.filter(kind="person")[:1],
        ]
        rows = []
        for n, subject in enumerate(subjects, start=1):
            rows.append({
                "decision_number": f"济市监罚〔{today.year}〕{9100 + n}号",
                "department_code": SHOWCASE_DEPARTMENT,
                "subject_type": subject.kind,
                "subject_identifier": subject.identifier,
                "subject_name": subject.name,
                "decision_date": today.isoformat(),
                "fine_amount": "2000.00",
                "severity": "general",
                "penalty_types": "fine",
                "facts": FACTS["general"][0],
                "subject_email": f"subject{n}@demo.credit.example",
                "subject_phone": f"1390000{n:04d}",
            })  # fmt: skip
        if not rows:
            return []
        result = records_ingest(rows=enumerate(rows, 1), actor="seed_demo", source="seed_demo")
        if result.rejected:
            raise CommandError(f"demo rows rejected: {result.rejected[:3]}")
        names = "、".join(subject.name for subject in subjects)
        return [
            f"Penalties imported today for {names} (no account; email and phone sent with the "
            f"record): `make run` sends each its credit-repair notice within a minute, by email "
            f"and text, shown on the console"
        ]

    def report_a_new_penalty(self, today) -> list[str]:
        """geren's repaired subject is penalised again today by reviewer's
        department: the import opens a breach review (履约核查) in reviewer's
        queue at once (post-repair monitoring), and reviewer sends the notice
        of intended revocation: the review waits for geren's statement
        (陈述申辩) on the case page."""
        case = RepairCase.objects.filter(status="approved", applicant__username="geren").first()
        if case is None:
            return []
        subject = case.subject
        row = {
            "decision_number": f"济市监罚〔{today.year}〕9001号",
            "department_code": SHOWCASE_DEPARTMENT,
            "subject_type": subject.kind,
            "subject_identifier": subject.identifier,
            "subject_name": subject.name,
            "decision_date": today.isoformat(),
            "fine_amount": "3000.00",
            "severity": "general",
            "penalty_types": "fine",
            "facts": FACTS["general"][0],
        }
        records_ingest(rows=[(1, row)], actor="seed_demo", source="seed_demo")
        review = BreachReview.objects.filter(case=case).first()
        if review is None:
            return []
        review = breach_notice_issue(
            reviewer=User.objects.get(username="reviewer"),
            review=review,
            facts=f"{today.year}年{today.month}月{today.day}日因同类违法行为再次受到行政处罚"
            f"（{row['decision_number']}），违反信用修复承诺。",
        )
        return [
            f"A new penalty of geren's subject opened a breach review for reviewer, who sent "
            f"the notice of intended revocation: /cases/breaches/{review.pk}/; it waits for "
            f"geren's statement on /cases/{case.pk}/"
        ]

    def file_a_case(self, *, applicant, binding, record, details):
        """Draft, the materials the case requires (an agent's power of
        attorney among them), the commitment read and signed by the applicant
        in their bound capacity, submit."""
        case = repair_case_draft_save(
            applicant=applicant, record=record, details=details, capacity=binding.capacity
        )
        for kind in required_materials(case):
            case_material_add(
                case=case,
                user=applicant,
                kind=kind,
                upload=SimpleUploadedFile(f"{kind}.pdf", DEMO_PDF, content_type="application/pdf"),
            )
        commitment = case_commitment(case)
        # A person reads the rendered draft before signing: render it now
        # (in real use it renders after the commit that issued it).
        letter_render(letter_id=commitment.draft_id)
        commitment.draft.refresh_from_db()
        case_commitment_sign(
            commitment=commitment,
            user=applicant,
            confirmed=True,
            draft_sha256=commitment.draft.sha256,
            ip=None,
            user_agent="seed_demo",
        )
        return repair_case_submit(applicant=applicant, case=case)

    def generate_rows(self, rng, today, n_records, n_subjects):
        people = max(n_subjects // 8, 4)
        subject_specs = []
        for i in range(n_subjects - people):
            district = DISTRICTS[i % len(DISTRICTS)]
            name = f"济南{district}{rng.choice(BRANDS)}{rng.choice(TRADES)}有限公司"
            subject_specs.append(("enterprise", make_uscc(serial=370000 + i * 37), f"{name}"))
        for i in range(people):
            birth = dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            subject_specs.append(("person", make_resident_id(birth=birth, serial=i * 2 + 1), name))
        # Make enterprise names unique so the demo reads well.
        seen = {}
        for idx, (kind, ident, name) in enumerate(subject_specs):
            if kind == "enterprise" and name in seen:
                subject_specs[idx] = (
                    kind,
                    ident,
                    name.replace("有限公司", f"第{seen[name]}分公司"),
                )
            seen[name] = seen.get(name, 0) + 1

        first_person = n_subjects - people
        counters = {code: 0 for code, *_ in DEPARTMENTS}
        for subject_idx, dept_idx, severity, types, days_ago in SHOWCASE:
            yield self.row(
                rng,
                subject_specs[first_person if subject_idx == "person" else subject_idx],
                DEPARTMENTS[dept_idx],
                counters,
                severity,
                types,
                today - dt.timedelta(days=days_ago),
            )
        start = dt.date(2023, 1, 1)
        span = (today - start).days
        for _ in range(n_records - len(SHOWCASE)):
            severity = rng.choices(["minor", "general", "serious"], weights=[15, 60, 25])[0]
            if severity == "minor":
                types = [rng.choice(["warning", "public_criticism"])]
            elif severity == "general":
                types = ["fine"] + (["confiscation"] if rng.random() < 0.2 else [])
            else:
                types = ["fine"] + (
                    [
                        rng.choice(
                            [
                                "licence_revocation",
                                "production_suspension",
                                "business_restriction",
                                "occupation_ban",
                            ]
                        )
                    ]
                    if rng.random() < 0.3
                    else []
                )
            # More recent decisions than old ones, as on a live platform.
            day = today - dt.timedelta(days=int(rng.triangular(1, span, 1)))
            yield self.row(
                rng,
                rng.choice(subject_specs),
                rng.choice(DEPARTMENTS),
                counters,
                severity,
                types,
                day,
            )

    def row(self, rng, subject, department, counters, severity, types, day):
        kind, identifier, name = subject
        code, _name, _sector, prefix = department
        counters[code] += 1
        fine = ""
        if "fine" in types:
            base = {"minor": 500, "general": 20000, "serious": 300000}[severity]
            fine = f"{rng.randrange(1, 10) * base // 2}.00"
        return {
            "decision_number": f"{prefix}〔{day.year}〕{counters[code]}号",
            "department_code": code,
            "subject_type": kind,
            "subject_identifier": identifier,
            "subject_name": name,
            "decision_date": day.isoformat(),
            "fine_amount": fine,
            "severity": severity,
            "penalty_types": ";".join(types),
            "facts": rng.choice(FACTS[severity]),
        }

    def change_some_statuses(self, rng, ids):
        """A few records repaired before the platform took over, a few deleted
        because their decision was revoked."""
        showcase = set(sorted(ids)[: len(SHOWCASE)])
        candidates = list(
            CreditRecord.objects.filter(status=RecordStatus.PUBLISHED)
            .exclude(id__in=showcase)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for record_id in rng.sample(candidates, min(60, len(candidates))):
            record = CreditRecord.objects.get(pk=record_id)
            if rng.random() < 0.75:
                record_status_set(
                    actor="seed_demo",
                    record=record,
                    status=RecordStatus.REPAIRED,
                    reason="系统上线前已办结的信用修复",
                )
            else:
                record_status_set(
                    actor="seed_demo",
                    record=record,
                    status=RecordStatus.DELETED,
                    reason="处罚决定被依法撤销（《山东省社会信用条例》第四十条）",
                )

    def create_accounts(self, departments):
        enterprises = list(Subject.objects.filter(kind="enterprise").order_by("id")[:3])
        person = Subject.objects.filter(kind="person").order_by("id").first()
        by_code = {d.code: d for d in departments}
        specs = [
            (
                "qiye",
                Role.APPLICANT,
                "张伟",
                {"subjects": [(enterprises[0], BindingCapacity.LEGAL_REPRESENTATIVE)]},
            ),
            (
                "daili",
                Role.APPLICANT,
                "李娜",
                {
                    "subjects": [
                        (enterprises[1], BindingCapacity.AGENT),
                        (enterprises[2], BindingCapacity.AGENT),
                    ]
                },
            ),
            ("geren", Role.APPLICANT, person.name, {"subjects": [(person, BindingCapacity.SELF)]}),
            ("officer", Role.OFFICER, "刘洋", {}),
            ("officer2", Role.OFFICER, "周婷", {}),
            ("reviewer", Role.REVIEWER, "陈静", {"department": by_code["JNSCJG"]}),
            ("reviewer_zjj", Role.REVIEWER, "赵磊", {"department": by_code["JNZJJ"]}),
            ("supervisor", Role.SUPERVISOR, "孙敏", {}),
            ("admin", Role.ADMINISTRATOR, "系统管理员", {}),
            # The department's own system: it may also report its revoked or
            # changed decisions (Shandong Social Credit Regulation Art. 40).
            (
                "scjg_system",
                Role.INTEGRATION,
                "市场监管局业务系统",
                {"department": by_code["JNSCJG"]},
            ),
        ]
        for username, role, full_name, extra in specs:
            account_create(
                actor="seed_demo",
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                full_name=full_name,
                # People get an address so the console backend shows their mail.
                email="" if role == Role.INTEGRATION else f"{username}@demo.credit.example",
                **extra,
            )

    def print_accounts(self):
        self.stdout.write(f"\nDemo accounts (password for all people: {DEMO_PASSWORD}):")
        for user in User.objects.order_by("id"):
            line = f"  {user.username:<14} {user.get_role_display()}"
            membership = getattr(user, "department_membership", None)
            if membership:
                line += f" · {membership.department.name}"
            bindings = list(user.subject_bindings.select_related("subject"))
            if bindings:
                line += " · " + "、".join(b.subject.name for b in bindings)
            if user.role == Role.INTEGRATION and hasattr(user, "auth_token"):
                line += f" · API token {user.auth_token.key}"
            self.stdout.write(line)
