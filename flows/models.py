# RepairCase and ObjectionCase arrive with their issues (see ../shared/design.md).
