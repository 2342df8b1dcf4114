"""`make demo` end to end: the CLI runs the main job on a fresh local stack in its own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from roster_dev.demo.run import SAMPLE
from roster_dev.demo.sample import sample_people_csv

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_sample_is_what_the_generator_makes() -> None:
    text = SAMPLE.read_text()
    assert text == sample_people_csv()
    assert len(text.splitlines()) > 5000


def test_demo_imports_the_sample_and_folds_its_duplicates() -> None:
    roster = Path(sys.executable).with_name("roster")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    result = subprocess.run([str(roster), "demo"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout

    def figure(label: str) -> int:
        found = re.search(rf"{re.escape(label)}\s*│\s*(\d+)", out)
        assert found, f"{label!r} missing from:\n{out}"
        return int(found.group(1))

    assert figure("rows read") == 5388
    assert figure("rows rejected") == 18  # 12 broken e-mails, 6 rows with an extra column
    assert figure("merges (a row bridged two profiles)") == 150
    assert figure("profiles created") - 150 == int(re.search(r"(\d+) active people profiles", out).group(1))  # type: ignore[union-attr]
    assert "has 10 values but the header has 9 columns" in out
    assert re.search(r"Re-importing the same file: 5370 rows unchanged, 0 created, 0 updated", out)
    assert figure("Executives in North America") == 850
    assert figure("Engineers in Europe") == 459
    assert figure("No LinkedIn profile yet") == 120
    assert re.search(r"'Executives in North America' goes 850 → 851", out)
    assert "stopped_by_budget" in out  # the enrichment run stops at its budget, then resumes
    assert "Run, resumed to the end" in out
    found = re.search(r"Job changes found in the last 6 months: (\d+)", out)
    companion = re.search(r"Companion segment '.+ \+ Job Change \(last 30 days\)': (\d+) people", out)
    assert found and companion and 0 < int(companion.group(1)) <= int(found.group(1)), out[-5000:]
    assert "Webhook receiver: 2 signed deliveries verified (segment.entered, segment.exited), 0 refused" in out
    assert "Meta audience: 0 → 1 → 0 members (opted out, still a Chief Revenue Officer)" in out
    assert re.search(r"\d+ Salesforce API calls", out)
    exported = re.search(r"In Salesforce now: (\d+) Contacts changed, (\d+) created with their Roster id", out)
    assert exported and int(exported.group(1)) > 0 and int(exported.group(2)) > 0, out[-3000:]
    assert "Preview (dry run)" in out
    assert re.search(r"A second export right after: 0 updated, 0 created, 0 ingest jobs", out)
    assert re.search(r"\d+ HubSpot API calls in [\d.]+ s", out)
    assert "The incremental sync read 4 contacts (the 3 edited and the merge's survivor)" in out
    assert re.search(r"Merge followed: contacts \d+, \d+ and \d+ now lead to 1 Roster profile\.", out)
    assert "HubSpot export preview (dry run)" in out
    assert "The preview made 0 HubSpot calls and wrote nothing." in out
    hubspot = re.search(r"HubSpot export: (\d+) updated, \d+ unchanged, 0 refused in 1 batch call", out)
    assert hubspot and int(hubspot.group(1)) >= 3, out[-3000:]
    assert "In HubSpot now: 3 contacts carry their new job title." in out
    assert "A second HubSpot export right after: 0 updated, 0 created, 0 batch calls." in out
    # the warehouse part: a DuckDB file, a timestamp source (full, then incremental) and a full-refresh one
    assert re.search(r"product-users, first run \(full\): 120 read, 120 created", out)
    # rows from the mark less the 10-minute lookback (11), the late row, the 3 updated ones
    assert re.search(
        r"after 3 updates and a late row \(incremental\): 15 read, 1 created, 3 updated, 11 unchanged", out
    )
    assert re.search(r"unsubscribed \(full\): 29 read, 0 created, 0 updated, 0 unchanged, 29 skipped, 1 removed", out)
    assert "its sources now: product-users" in out
