from django.shortcuts import render
from django.utils import timezone

from sla.calendar import RULE_SAME_DAY, RULE_WORKING_DAYS
from sla.forms import DeadlineQueryForm
from sla.office import office_hours, work_calendar
from sla.services import deadline_for


def year_ranges(years) -> list[str]:
    """[2004, 2005, 2006, 2010] -> ["2004-2006", "2010"]."""
    ranges: list[list[int]] = []
    for year in sorted(years):
        if ranges and year == ranges[-1][1] + 1:
            ranges[-1][1] = year
        else:
            ranges.append([year, year])
    return [str(a) if a == b else f"{a}-{b}" for a, b in ranges]


def deadline_calculator(request):
    """Open to everyone: officers and the public work out a deadline and see why."""
    hours = office_hours()
    deadline = None
    if "received" in request.GET or "rule" in request.GET:
        form = DeadlineQueryForm(request.GET, default_tz=hours.tz)
        if form.is_valid():
            data = form.cleaned_data
            deadline = deadline_for(received_at=data["received"], rule=data["rule"], n=data["n"])
    else:
        now = timezone.localtime(timezone.now(), hours.tz)
        form = DeadlineQueryForm(
            initial={"received": now.strftime("%Y-%m-%dT%H:%M"), "rule": RULE_SAME_DAY, "n": 10},
            default_tz=hours.tz,
        )
    return render(
        request,
        "sla/deadline_calculator.html",
        {
            "form": form,
            "deadline": deadline,
            "hours": hours,
            "loaded_years": year_ranges(work_calendar().loaded_years),
            "rule_working_days": RULE_WORKING_DAYS,
            "received_value": _received_value(form, hours.tz),
        },
    )


def _received_value(form, tz) -> str:
    """What to put back in the date-time input: the time in the office's zone."""
    if not form.is_bound:
        return form.initial["received"]
    received = form.cleaned_data.get("received")
    if received is None:
        return form.data.get("received", "")
    return timezone.localtime(received, tz).strftime("%Y-%m-%dT%H:%M:%S")
