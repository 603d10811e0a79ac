"""Sum the JUnit reports of every tox env into one closing line: 'N passed, N failed, N skipped'."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

totals = {"passed": 0, "failed": 0, "skipped": 0}
reports = sorted(Path(sys.argv[1]).glob("*.xml"))
for report in reports:
    for suite in ET.parse(report).getroot().iter("testsuite"):
        tests = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        totals["passed"] += tests - failed - skipped
        totals["failed"] += failed
        totals["skipped"] += skipped
    print(f"  {report.stem}: read", file=sys.stderr)
if not reports or sum(totals.values()) == 0:
    print("no test reports found", file=sys.stderr)
    sys.exit(1)
print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
sys.exit(1 if totals["failed"] else 0)
