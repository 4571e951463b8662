# Letters, numbering and the notification outbox arrive with their issues (see ../shared/design.md).
