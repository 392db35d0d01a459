"""`cycle-instruct view` served for real and driven in the system Chromium (Debian's chromium and
chromium-driver; .ci/run installs them), with every request outside localhost sent to a proxy that
does not exist: the page must work with the network off.

Used by the integration test on a real run (test_pipeline.py) and by benchmarks/view.py --screenshot.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMEDRIVER, CHROMIUM = "/usr/bin/chromedriver", "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(db, cwd=ROOT, port=None):
    """`cycle-instruct view --db <db>` on a free localhost port, as a user starts it; yields its URL."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cycle_instruct.cli", "view", "--db", str(db), "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(f"cycle-instruct view exited: {proc.stdout.read()}")
            try:
                urllib.request.urlopen(url + "/-/versions.json", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("cycle-instruct view did not answer in 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def chromium(width=1280, height=900):
    """Headless Chromium through the system chromedriver (never Selenium Manager's downloads);
    every non-localhost request goes to 127.0.0.1:9, where nothing listens: the network is off."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a browser or driver online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--proxy-server=http://127.0.0.1:9",  # localhost bypasses a proxy; everything else fails
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (Chrome's DevTools network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def screenshot(db, out, path="/", width=1280, height=900):
    """A PNG of one page of the view (the README's screenshot: python tests/view_browser.py data/view/run.db docs/images/view.png)."""
    with served(db) as url, chromium(width, height) as driver:
        driver.get(url + path)
        driver.save_screenshot(str(out))


if __name__ == "__main__":
    screenshot(*sys.argv[1:])
