"""`neuroseq content check|test|preview` as staff run them: real processes, real exit codes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cli import run_cli
from neuroseq_core.cli.scripts import load_scripts

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "tests" / "conversations"
TIMEOUT = 120  # seconds; loading and checking the content takes about one


def neuroseq(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the command line in a child process, with the shipped content unless a folder is given."""
    return run_cli(list(args), cwd=cwd, timeout=TIMEOUT)


def test_check_passes_on_the_shipped_content():
    done = neuroseq("content", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^content OK: \d+ questions, \d+ activities, 2 languages", done.stdout, re.MULTILINE)


def test_check_on_a_broken_copy_exits_1_naming_file_and_line(copy: Path):
    path = copy / "questionnaires" / "caregiver.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # The first option of the first question says "most worried", so the options go down.
    at = next(i for i, line in enumerate(lines) if "concern: 0" in line)
    lines[at] = lines[at].replace("concern: 0", "concern: 3")
    path.write_text("".join(lines), encoding="utf-8")

    done = neuroseq("content", "check", str(copy))

    assert done.returncode == 1, done.stdout + done.stderr
    expected = f"questionnaires/caregiver.yaml:{at + 2}: error:"  # the next option is the one going down
    hits = [ln for ln in done.stdout.splitlines() if ln.startswith(expected)]
    assert hits and "least to most concern" in hits[0], done.stdout
    assert re.search(r"^\d+ error\(s\), \d+ warning\(s\)$", done.stdout, re.MULTILINE)
    assert "Traceback" not in done.stderr


def test_check_reports_a_yaml_mistake_with_its_line(copy: Path):
    path = copy / "activities" / "relate.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("minutes:"))
    lines.insert(at + 1, lines[at].replace("minutes:", "minutez:"))
    path.write_text("".join(lines), encoding="utf-8")

    done = neuroseq("content", "check", str(copy))

    assert done.returncode == 1
    assert any(
        ln.startswith(f"activities/relate.yaml:{at + 2}: error:") and "minutez" in ln
        for ln in done.stdout.splitlines()
    ), done.stdout


def test_content_test_runs_the_shipped_scripts():
    done = neuroseq("content", "test", "--scripts", str(SCRIPTS))
    assert done.returncode == 0, done.stdout + done.stderr
    m = re.search(r"^(\d+) passed, 0 failed$", done.stdout, re.MULTILINE)
    assert m, done.stdout
    assert int(m.group(1)) == len(load_scripts(SCRIPTS)) >= 3
    assert "FAIL" not in done.stdout


def test_content_test_reports_a_failing_script(tmp_path: Path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "broken.yaml").write_text(
        "name: expects something never said\nturns:\n  - user: /start\n    bot: this text is never said\n",
        encoding="utf-8",
    )
    done = neuroseq("content", "test", "--scripts", str(scripts))
    assert done.returncode == 1
    assert "FAIL  broken.yaml: expects something never said" in done.stdout
    assert "broken.yaml:3:" in done.stdout
    assert re.search(r"^0 passed, 1 failed$", done.stdout, re.MULTILINE)


def test_content_test_without_scripts_is_a_usage_error(tmp_path: Path):
    done = neuroseq("content", "test", "--scripts", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "--scripts" in done.stderr


def test_preview_writes_every_page(tmp_path: Path):
    out = tmp_path / "preview"
    done = neuroseq("content", "preview", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {p.name for p in out.iterdir()} >= {"index.html", "en.html", "es.html", "flows.html"}
    for page in out.iterdir():
        assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert f"{out}/index.html" in done.stdout


def test_preview_of_broken_content_exits_1_and_writes_nothing(copy: Path, tmp_path: Path):
    (copy / "languages.yaml").write_text("languages: [en, es]\ndefault_language: fr\n", encoding="utf-8")
    out = tmp_path / "preview"
    done = neuroseq("content", "preview", str(copy), "--out", str(out))
    assert done.returncode == 1
    assert "languages.yaml:1: error: default_language must be one of languages" in done.stderr
    assert not out.exists()
