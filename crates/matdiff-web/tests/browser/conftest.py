"""Fixtures for the browser tests: the server under test, headless Chromium, the output folder.

Environment:
  MATDIFF_URL       base URL of a server that is already running; if unset, the fixture starts
                    `matdiff serve --port 0` itself and reads the port from what it prints.
  MATDIFF_BIN       the matdiff binary to start (default: the newest of target/{release,debug}/
                    matdiff in this repository, else `matdiff` on PATH).
  MATDIFF_MOCK=1    test against the mock server (dev/mock_server.py, recorded answers) instead.
  MATDIFF_TEST_OUT  where screenshots go (default: a new temporary folder, printed).
  CHROMIUM, CHROMEDRIVER  paths, if `chromium` / `chromedriver` are not on PATH.
  MATDIFF_REQUIRE_BROWSER=1  fail (rather than skip) without them, as CI does.

Needs: `apt-get install -y chromium chromium-driver`, `pip install selenium pytest`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.abspath(os.path.join(HERE, "..", ".."))


def _matdiff_binary():
    if os.environ.get("MATDIFF_BIN"):
        return os.environ["MATDIFF_BIN"]
    root = os.path.abspath(os.path.join(WEB, "..", ".."))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    built = [os.path.join(target, kind, "matdiff") for kind in ("release", "debug")]
    built = [b for b in built if os.path.isfile(b)]
    if built:
        return max(built, key=os.path.getmtime)
    return shutil.which("matdiff")


def _start(cmd, what):
    """Start a server that prints its URL on its first line of output; (process, URL)."""
    # stderr is inherited (pytest shows it with a failure): a pipe nobody reads could fill up.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"{what} did not start; it printed: {line!r}")
    return proc, m.group(1)


@pytest.fixture(scope="session")
def base_url():
    url = os.environ.get("MATDIFF_URL")
    if url:
        yield url.rstrip("/") + "/"
        return
    if os.environ.get("MATDIFF_MOCK") == "1":
        proc, url = _start([sys.executable, os.path.join(WEB, "dev", "mock_server.py"), "--port", "0",
                            "--quiet"], "the mock server")
    else:
        binary = _matdiff_binary()
        if not binary:
            pytest.fail("no matdiff binary: build it (`cargo build -p matdiff-cli`) or set MATDIFF_BIN")
        proc, url = _start([binary, "serve", "--port", "0"], f"`{binary} serve`")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def out_dir():
    path = os.environ.get("MATDIFF_TEST_OUT") or tempfile.mkdtemp(prefix="matdiff-web-test-")
    os.makedirs(path, exist_ok=True)
    print(f"\nbrowser test output: {path}")
    return path


def _find(env, *names):
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = _find("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    chromedriver = _find("CHROMEDRIVER", "chromedriver")
    if not chromium or not chromedriver:
        why = "chromium and chromedriver are needed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("MATDIFF_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="matdiff-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1440,1000", f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Console entries that are expected: the browser logs every 4xx answer to fetch() as a failed
# resource load, and the tests provoke user errors on purpose (400), and the page probes
# endpoints that may not exist yet (404: /api/read, /api/examples, /api/hessian, ...).
EXPECTED = re.compile(r"/api/[a-z]+ - Failed to load resource: the server responded with a status of (400|404|405|422)")


def console_problems(driver):
    """Console entries that are errors: JS exceptions, CSP violations, failed asset loads."""
    bad = []
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        level = entry.get("level", "")
        if EXPECTED.search(message):
            continue
        if level == "SEVERE" or "Content Security Policy" in message or "Refused to" in message:
            bad.append(f"{level} {entry.get('source', '')}: {message}")
    return bad


@pytest.fixture
def page(browser, base_url):
    """The browser at a fresh page (1440 px wide); fails the test on console errors."""
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.set_window_size(1440, 1000)
    browser.get("about:blank")
    browser.get_log("browser")  # drop what came before
    yield browser
    problems = console_problems(browser)
    assert not problems, "browser console:\n" + "\n".join(problems)


def pytest_report_header(config):
    if os.environ.get("MATDIFF_URL"):
        return "matdiff web: " + os.environ["MATDIFF_URL"]
    if os.environ.get("MATDIFF_MOCK") == "1":
        return "matdiff web: mock server (recorded answers)"
    return f"matdiff web: {_matdiff_binary()} serve --port 0"
