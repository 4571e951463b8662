"""The statutory public holidays of a year, computed: 《全国年节及纪念日放假办法》
(2024 revision, State Council Decree No. 798), Art. 2.

Used for a year whose official arrangement (the State Council's notice with
its bridging days and make-up working days, 调休) is not loaded yet: these
days are off whatever the notice will say, so a deadline that runs into such
a year counts them and stays provisional only for the 调休 still unknown.
Pure: lunar dates and the Qingming solar term come from lunar-python.
"""

import datetime as dt
from functools import cache

from django.utils.translation import gettext_lazy as _
from lunar_python import Lunar, Solar


def _solar(day: Solar) -> dt.date:
    return dt.date(day.getYear(), day.getMonth(), day.getDay())


@cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The days off by law in `year`, each with its festival's name."""
    new_year = _solar(Lunar.fromYmd(year, 1, 1).getSolar())
    qingming = _solar(Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()["清明"])
    days = {
        dt.date(year, 1, 1): _("元旦"),
        # 春节: the eve (the last day of the twelfth lunar month) and the first three days.
        **{new_year + dt.timedelta(days=n): _("春节") for n in range(-1, 3)},
        qingming: _("清明节"),
        dt.date(year, 5, 1): _("劳动节"),
        dt.date(year, 5, 2): _("劳动节"),
        _solar(Lunar.fromYmd(year, 5, 5).getSolar()): _("端午节"),
        _solar(Lunar.fromYmd(year, 8, 15).getSolar()): _("中秋节"),
        **{dt.date(year, 10, d): _("国庆节") for d in (1, 2, 3)},
    }
    return {day: str(name) for day, name in sorted(days.items())}
