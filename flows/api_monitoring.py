"""API of post-repair monitoring. Being written: see issue 7."""

urlpatterns: list = []
