"""The console, driven end to end through a subprocess pipe, and the command line's contracts."""

from __future__ import annotations

import pytest

from cli import run_cli


@pytest.fixture()
def db_env(tmp_path):
    return {"NEUROSEQ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"}


def test_console_whole_conversation_through_a_pipe(db_env):
    typed = ["1", "1", "6–11 years"] + ["3"] * 5 + ["United Kingdom", "More ideas", "1", "Pip"] + ["3"] * 20
    out = run_cli(["console", "--user", "pipe"], "\n".join(typed) + "\n", db_env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Shall we begin?\n  1) Yes, let's begin\n  2) Not now\n  3) Español" in text
    assert "  1) Rarely" in text and "1 of 5" in text
    assert "Start with Regulate" in text
    assert "A first idea to try" in text and "A few more ideas" in text
    assert "A few more questions" in text and "Pip" in text
    assert "Traceback" not in out.stderr


def test_console_end_of_input_exits_cleanly_and_resumes_after_restart(db_env):
    first = run_cli(["console", "--user", "resume"], "1\n1\n9\n2\n3\n", db_env)
    assert first.returncode == 0, first.stderr
    assert "9 years old" in first.stdout  # at the age question a typed number is an age
    assert "2 of 5" in first.stdout and "3 of 5" in first.stdout
    second = run_cli(["console", "--user", "resume"], "", db_env)
    assert second.returncode == 0, second.stderr
    assert "Welcome back" in second.stdout and "3 of 5" in second.stdout


def test_console_survives_hostile_input(db_env):
    typed = ["", "x" * 10_000, "😀", "مرحبا", "/back", "/frob", "1", "0", "-1", "1)"]
    out = run_cli(["console", "--user", "hostile"], "\n".join(typed) + "\n", db_env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "I can only answer with the buttons" in out.stdout and "/helplines" in out.stdout


def test_console_refuses_invalid_content(tmp_path, db_env):
    bad = tmp_path / "content"
    bad.mkdir()
    (bad / "languages.yaml").write_text("languages: [en]\ndefault_language: en\n")
    out = run_cli(["console", "--content", str(bad)], "", db_env)
    assert out.returncode == 1
    assert "sequence.yaml:1: error: this file is missing" in out.stderr


def test_content_check_passes_on_shipped_content():
    out = run_cli(["content", "check"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "content OK" in out.stdout


def test_bad_usage_exits_2():
    out = run_cli(["nonsense"])
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_bad_configuration_exits_2_with_one_line():
    out = run_cli(["run"], env={"TELEGRAM_BOT_TOKEN": ""})
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "TELEGRAM_BOT_TOKEN" in out.stderr
    out = run_cli(["run"], env={"TELEGRAM_BOT_TOKEN": "not-a-token"})
    assert out.returncode == 2 and "not-a-token" not in out.stderr
    out = run_cli(["console"], env={"NEUROSEQ_RETENTION_DAYS": "soon"})
    assert out.returncode == 2 and "NEUROSEQ_RETENTION_DAYS" in out.stderr
