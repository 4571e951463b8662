"""The official holiday arrangements 2004-2026 from the chinese-calendar package.

Later years are loaded with `manage.py load_calendar` when the State Council
publishes them (shared domain reference section 6).
"""

from django.db import migrations
from django.utils import timezone

YEARS = range(2004, 2027)

NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def load(apps, schema_editor):
    import chinese_calendar
    from chinese_calendar import constants

    CalendarYear = apps.get_model("sla", "CalendarYear")
    CalendarDay = apps.get_model("sla", "CalendarDay")
    version = getattr(chinese_calendar, "__version__", "")
    source = f"chinese-calendar {version}（国务院办公厅历年放假安排）".replace(" （", "（")
    now = timezone.now()
    CalendarYear.objects.bulk_create(
        CalendarYear(year=year, source=source, loaded_at=now) for year in YEARS
    )
    year_ids = dict(CalendarYear.objects.filter(year__in=YEARS).values_list("year", "id"))
    days = []
    for kind, table in (("holiday", constants.holidays), ("workday", constants.workdays)):
        for date, name in table.items():
            if date.year in year_ids:
                days.append(CalendarDay(
                    calendar_year_id=year_ids[date.year], date=date, kind=kind,
                    name=NAMES.get(name, name),
                ))
    CalendarDay.objects.bulk_create(days)


def unload(apps, schema_editor):
    apps.get_model("sla", "CalendarYear").objects.filter(year__in=YEARS).delete()


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
