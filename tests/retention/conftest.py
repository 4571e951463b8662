# The repair case fixtures (frozen clock at T0, media in a temporary folder,
# `drive`, `committed`), shared with the flows' tests.
from tests.flows.conftest import approved, committed, drive, media, now  # noqa: F401
