"""Print a locust run's figures: p50/p95/p99 per endpoint and the errors.

python tests/load/report.py <csv prefix>   # reads <prefix>_stats.csv and _failures.csv
"""

import csv
import sys
from pathlib import Path


def main(prefix: str) -> int:
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as handle:
        stats = list(csv.DictReader(handle))
    rows = [row for row in stats if row["Name"] != "Aggregated"]
    total = next(row for row in stats if row["Name"] == "Aggregated")
    width = max(len(row["Name"]) for row in stats) + 2
    heads = f"{'requests':>9}{'errors':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
    print(f"{'endpoint':<{width}}{heads}")
    for row in sorted(rows, key=lambda r: -float(r["95%"] or 0)):
        print(
            f"{row['Name']:<{width}}{row['Request Count']:>9}{row['Failure Count']:>8}"
            f"{row['50%']:>8}{row['95%']:>8}{row['99%']:>8}"
        )
    print(
        f"{'all':<{width}}{total['Request Count']:>9}{total['Failure Count']:>8}"
        f"{total['50%']:>8}{total['95%']:>8}{total['99%']:>8}"
        f"   ({float(total['Requests/s']):.1f} requests/s)"
    )
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with failures.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                what = f"{row['Method']} {row['Name']}: {row['Error']}"
                print(f"  error x{row['Occurrences']}: {what}")
    print(f"errors: {total['Failure Count']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
