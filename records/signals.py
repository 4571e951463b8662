"""Signals other apps listen to, so records/ need not know them."""

from django.dispatch import Signal

# Sent in the saving transaction after an import batch wrote records (new or
# changed): record_ids, actor, at. flows.monitoring matches them against the
# monitored subjects.
records_saved = Signal()
