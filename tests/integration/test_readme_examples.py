"""The README's curl examples, run as written against the local stack: each must answer 2xx."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import new_workspace

README = Path(__file__).resolve().parents[2] / "README.md"
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def api_examples() -> list[str]:
    """The README's bash blocks that call the API at `$ROSTER_URL` with curl."""
    return [
        block for block in BASH_BLOCK.findall(README.read_text()) if re.search(r"^curl .*\$ROSTER_URL", block, re.M)
    ]


def test_readme_curl_examples_answer_2xx(runner: Runner, stack: LocalStack, tmp_path: Path) -> None:
    examples = api_examples()
    assert examples, "the README shows no curl example against $ROSTER_URL"
    # curl reads $CURL_HOME/.curlrc: it fails on a 4xx/5xx and prints each answer's status
    (tmp_path / ".curlrc").write_text('fail-with-body\nwrite-out = "\\nstatus %{http_code}\\n"\n')
    env = {**os.environ, "CURL_HOME": str(tmp_path), "ROSTER_URL": runner.serve()}
    env["ROSTER_API_KEY"] = new_workspace(runner, stack).key
    for block in examples:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, capture_output=True, text=True)
        statuses = re.findall(r"^status (\d{3})$", done.stdout, re.M)
        assert done.returncode == 0, (block, done.stdout, done.stderr)
        assert len(statuses) == len(re.findall(r"^curl ", block, re.M)), (block, done.stdout)
        assert all(status.startswith("2") for status in statuses), (block, done.stdout)
