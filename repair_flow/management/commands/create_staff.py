"""Create a staff account (the first administrator, officers, reviewers,
supervisors) from the command line: the operator's way in on a new
installation, where nobody can log in to the admin yet."""

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from records.models import Department
from repair_flow.accounts import AccountError, account_create
from repair_flow.models import STAFF_ROLES, Role, User

STAFF_ROLE_NAMES = sorted(str(role) for role in STAFF_ROLES)


class Command(BaseCommand):
    help = (
        "Create a staff account with its role: administrator, officer, reviewer "
        "(with --department) or supervisor. The password is asked twice, or read "
        "from standard input with --password-stdin; --no-password leaves it unset "
        "(an administrator sets it later). Audited like any account creation."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=STAFF_ROLE_NAMES)
        parser.add_argument(
            "--department", help="a reviewer's department code (records.Department.code)"
        )
        parser.add_argument("--full-name", default="", help="the person's name as pages show it")
        parser.add_argument("--email", default="")
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input (scripts)",
        )
        source.add_argument(
            "--no-password",
            action="store_true",
            help="create the account without a usable password",
        )

    def handle(self, *args, username, role, department, full_name, email, **options):
        username = username.strip()
        if not username:
            raise CommandError(_("用户名不能为空"))
        if User.objects.filter(username=username).exists():
            raise CommandError(_("用户名已存在：%(username)s") % {"username": username})
        dept = self.department(department, role)
        # The password is checked before anything is written: a refused one
        # leaves no account behind.
        password = None
        if not options["no_password"]:
            password = self.password(username=username, stdin=options["password_stdin"])
            try:
                validate_password(
                    password, user=User(username=username, first_name=full_name, email=email)
                )
            except ValidationError as exc:
                raise CommandError(
                    _("密码不符合要求：%(reasons)s") % {"reasons": " ".join(exc.messages)}
                ) from None
        try:
            user = account_create(
                # The audit trail names the operator's OS account: no person
                # is logged in to the product yet.
                actor=f"manage.py create_staff ({getpass.getuser()})",
                username=username,
                password=password,
                role=role,
                full_name=full_name,
                email=email,
                department=dept,
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            _("已创建 %(role)s 账号 %(username)s%(department)s%(password)s")
            % {
                "role": Role(role).label,
                "username": user.username,
                "department": f"（{dept.name}）" if dept else "",
                "password": "" if password else _("，未设置密码"),
            }
        )

    def department(self, code: str | None, role: str) -> Department | None:
        if role != Role.REVIEWER:
            if code:
                raise CommandError(_("只有认定单位审核人属于认定单位，请去掉 --department"))
            return None
        if not code:
            raise CommandError(_("认定单位审核人需要 --department <认定单位代码>"))
        try:
            return Department.objects.get(code=code)
        except Department.DoesNotExist:
            known = ", ".join(Department.objects.values_list("code", flat=True)[:20])
            raise CommandError(
                _("没有代码为 %(code)s 的认定单位（已有：%(known)s）")
                % {"code": code, "known": known or _("无")}
            ) from None

    def password(self, *, username: str, stdin: bool) -> str:
        if stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError(_("标准输入中没有密码"))
            return password
        if not sys.stdin.isatty():
            raise CommandError(_("没有终端可以询问密码：请用 --password-stdin 或 --no-password"))
        first = getpass.getpass(_("%(username)s 的密码：") % {"username": username})
        second = getpass.getpass(_("再输入一次："))
        if first != second:
            raise CommandError(_("两次输入的密码不一致"))
        if not first:
            raise CommandError(_("密码不能为空"))
        return first
