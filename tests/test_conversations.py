"""The YAML conversation scripts under tests/conversations, run on the shipped content."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroseq_core.cli.scripts import load_scripts, run_script

SCRIPTS = load_scripts(Path(__file__).parent / "conversations")


@pytest.mark.parametrize(("file", "script"), SCRIPTS, ids=[f"{f}:{s.get('name', '')}" for f, s in SCRIPTS])
def test_script(content, file, script):
    result = run_script(script, content, file)
    assert result.ok, "\n".join(result.failures + ["--- transcript ---"] + result.transcript[-12:])


def test_a_broken_expectation_is_reported_with_file_and_line(content, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nturns:\n  - user: /start\n    bot: this text is never said\n"
    )
    [(file, script)] = load_scripts(tmp_path)
    result = run_script(script, content, file)
    assert not result.ok and result.failures[0].startswith("bad.yaml:3:")
