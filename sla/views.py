from django.http import HttpResponse


def deadline_calculator(request):  # replaced by the calendar work in progress
    return HttpResponse("deadline calculator")
