"""`neuroseq content preview`: the pages exist, hold every question and activity, and load in a browser."""

from __future__ import annotations

import html
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dialogs import MAIN
from neuroseq_core.content import Content
from neuroseq_core.content.messages import BASE_SAMPLE
from neuroseq_core.content.preview import write_preview
from neuroseq_core.content.render import to_plain

LANGS = ("en", "es")
BROWSER_TIMEOUT = 60.0  # seconds for the whole browser session (it takes about two)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("preview")
    assert write_preview(None, out) == 0
    return out


def page_text(path: Path) -> str:
    """The page with entities decoded, so plain text can be looked for."""
    return html.unescape(path.read_text(encoding="utf-8"))


def question_text(content: Content, question_id: str, lang: str) -> str:
    """A question as the preview shows it: rendered with the sample nickname, tags removed."""
    q = content.questions[question_id]
    return to_plain(content.text_of(q.text, lang, child=BASE_SAMPLE["child"]))


def test_every_page_is_written(pages: Path, content: Content):
    names = {p.name for p in pages.iterdir()}
    assert names == {"index.html", "flows.html", *(f"{lang}.html" for lang in content.languages.languages)}
    index = page_text(pages / "index.html")
    for lang in LANGS:
        assert f'href="{lang}.html"' in index
    assert "flows.html" in index


@pytest.mark.parametrize("lang", LANGS)
def test_language_page_has_every_question_and_activity(pages: Path, content: Content, lang: str):
    text = page_text(pages / f"{lang}.html")
    assert f'<html lang="{lang}">' in text
    for a in content.activities.values():
        t = a.text[lang]
        assert t.title in text, f"{a.id}: title {t.title!r} missing from {lang}.html"
        assert t.why in text
        assert all(s in text for s in t.steps), f"{a.id}: a step is missing from {lang}.html"
    for qid in content.questions:
        assert question_text(content, qid, lang) in text, f"{qid} missing from {lang}.html"
    raw = (pages / f"{lang}.html").read_text(encoding="utf-8")
    for q in content.questions.values():
        for o in q.options:
            assert f'<span class="btn">{html.escape(o.label[lang])}</span>' in raw, f"{q.id}/{o.id} button"
    for mid in content.messages[lang]:
        assert f'<span class="id">{mid}</span>' in text, f"message {mid} missing from {lang}.html"
    assert "does not render with sample data" not in text


def test_spanish_page_is_in_spanish(pages: Path, content: Content):
    es = page_text(pages / "es.html")
    translated = [a for a in content.activities.values() if a.text["es"].title != a.text["en"].title]
    assert translated
    english_left = [a.text["en"].title for a in translated if a.text["en"].title in es]
    assert not english_left, f"English titles on the Spanish page: {english_left}"


def test_flows_page_draws_every_transition_that_runs(pages: Path):
    text = page_text(pages / "flows.html")
    assert text.count("stateDiagram-v2") == 1
    assert MAIN.mermaid() in text
    # every transition the machine runs is an edge: resume, /back and the ends of side trips too
    for t in MAIN.transitions:
        sources = [t["source"]] if isinstance(t["source"], str) else t["source"]
        for src in sources:
            name = "any" if src == "*" else src
            assert f"    {name} --> {t['dest']} : {t['trigger']}" in text, t
    machine = MAIN.machine
    for trigger, event in machine.events.items():
        for src, transitions in event.transitions.items():
            for tr in transitions:
                assert f"{'any' if src == '*' else src} --> {tr.dest} : {trigger}" in text or (
                    f"any --> {tr.dest} : {trigger}" in text
                ), (src, tr.dest, trigger)


def test_invalid_content_writes_no_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    broken = tmp_path / "content"
    broken.mkdir()
    out = tmp_path / "out"
    assert write_preview(broken, out) == 1
    assert not out.exists()
    assert "languages.yaml:1: error:" in capsys.readouterr().err


# --- In a real browser -----------------------------------------------------------------------------


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Chromium reads DevTools commands on fd 3 and writes replies and events on fd 4 (with
# --remote-debugging-pipe), each a JSON text ended by a NUL byte. This wrapper puts our pipe ends
# on 3 and 4, then becomes Chromium: no socket, no port, no extra package.
_ON_FDS_3_AND_4 = (
    "import fcntl, os, sys\n"
    "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


@dataclass
class Loaded:
    """What the browser saw on one page."""

    lang: str
    text: str  # document.body.innerText, as a reader sees it
    dom: str  # the serialised DOM after load
    problems: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads


class Browser:
    """A headless Chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ON_FDS_3_AND_4, str(to_browser_r), str(from_browser_w), *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # Chromium's own chatter (D-Bus, GPU) is not the page's
            start_new_session=True,  # its renderer and GPU helpers share the group, to end them together
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.deadline = time.monotonic() + BROWSER_TIMEOUT
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        """Wait for an event of this session (it may already have arrived)."""
        while True:
            for ev in self.events:
                if ev.get("method") == method and ev.get("sessionId") == session:
                    self.events.remove(ev)
                    return
            self.events.append(self._read_message())

    def load(self, url: str, lang: str) -> Loaded:
        """Open a page in a new tab, wait for it to load, and collect what went wrong."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session)
        self.events = [ev for ev in self.events if ev.get("sessionId") != session]
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)

        def evaluate(expression: str) -> str:
            result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
            return str(result["result"].get("value", ""))

        loaded = Loaded(
            lang=evaluate("document.documentElement.lang"),
            text=evaluate("document.body ? document.body.innerText : ''"),
            dom=evaluate("document.documentElement.outerHTML"),
        )
        for ev in self.events:
            if ev.get("sessionId") != session:
                continue
            params = ev.get("params", {})
            if ev.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                loaded.problems.append(
                    "Uncaught " + details.get("exception", {}).get("description", details.get("text", ""))
                )
            elif ev.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                values = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
                loaded.problems.append("console error: " + " ".join(values))
            elif ev.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                loaded.problems.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}".strip())
        self.call("Target.closeTarget", targetId=target)
        return loaded

    def close(self) -> None:
        """Close the browser; kill it if it does not go."""
        try:
            self.deadline = time.monotonic() + 5
            self.call("Browser.close")
        except (OSError, TimeoutError, ConnectionError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def browsed(pages: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Loaded]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    browser = Browser(chromium, tmp_path_factory.mktemp("chromium-profile"))
    try:
        return {page.name: browser.load(page.as_uri(), page.name) for page in sorted(pages.glob("*.html"))}
    finally:
        browser.close()


@pytest.mark.browser
def test_every_page_loads_without_console_errors(browsed: dict[str, Loaded]):
    assert set(browsed) == {"index.html", "flows.html", *(f"{lang}.html" for lang in LANGS)}
    for name, loaded in browsed.items():
        assert not loaded.problems, f"{name}: {loaded.problems}"
        assert loaded.dom.startswith("<html") and "<body>" in loaded.dom, name
        assert "<nav>" in loaded.dom, name


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_browser_shows_every_question_and_activity(browsed: dict[str, Loaded], content: Content, lang: str):
    loaded = browsed[f"{lang}.html"]
    assert loaded.lang == lang
    for a in content.activities.values():
        assert a.text[lang].title in loaded.text, f"{a.id}: {a.text[lang].title!r} not shown"
    for qid in content.questions:
        assert question_text(content, qid, lang) in loaded.text, f"{qid} not shown in {lang}.html"


@pytest.mark.browser
def test_browser_shows_spanish_on_the_spanish_page(browsed: dict[str, Loaded], content: Content):
    es, en = browsed["es.html"], browsed["en.html"]
    assert es.lang == "es" and 'lang="es"' in es.dom
    a = next(a for a in content.activities.values() if a.text["es"].title != a.text["en"].title)
    assert a.text["es"].title in es.text and a.text["es"].title not in en.text
    assert a.text["en"].title not in es.text


@pytest.mark.browser
def test_browser_shows_the_flow_diagrams_source(browsed: dict[str, Loaded]):
    flows = browsed["flows.html"]
    assert "stateDiagram-v2" in flows.text
    assert "[*] -->" in flows.text  # entities decoded: the reader sees the mermaid source as written


def test_preview_files_are_private_whatever_the_umask(tmp_path: Path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "preview"
        assert write_preview(None, out) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
