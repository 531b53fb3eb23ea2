"""The web page in a real browser: the system's headless Chromium, driven by Playwright.

The page's content security policy forbids eval, so the tests wait with
selectors (Playwright runs those in its own world), not ``wait_for_function``.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(Debian's ``chromium`` package, which .ci/run installs). Without it the
test is skipped, saying so.
"""

import os

import httpx
import numpy as np
import pytest
from PIL import Image

from .._helpers import dark
from ._server import AUTH, TOKEN, encode

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install playwright")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, server, problems, **context):
    page = browser.new_context(**context).new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning", "verbose") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_selector("#auth:not(.hidden)")  # /health says a token is needed
    return page


def test_upload_see_the_result_and_download_it(browser, server, tmp_path):
    src = dark((60, 80, 3))
    (tmp_path / "dark photo.png").write_bytes(encode(src))
    problems = []
    page = open_page(browser, server, problems)
    page.fill("#token", TOKEN)
    page.set_input_files("#file", str(tmp_path / "dark photo.png"))
    page.wait_for_selector("#status:has-text('Done in')", timeout=60_000)
    assert page.is_visible("#after") and page.is_visible("#split") and page.is_visible("#before")
    assert page.evaluate("document.querySelector('#after').naturalWidth") == 80

    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "dark_photo-enhanced.png"
    path = tmp_path / "downloaded.png"
    download.save_as(path)
    with Image.open(path) as out:
        assert out.format == "PNG" and out.size == (80, 60)
        pixels = np.asarray(out)
    # the same bytes as the API answers for the same file and the page's default options
    api = httpx.post(server.url + "/enhance", files={"file": ("x.png", encode(src))}, headers=AUTH, timeout=60)
    assert path.read_bytes() == api.content
    assert pixels.mean() > src.mean() + 20

    # the format control re-runs the request: JPEG when asked
    page.select_option("#format", "jpeg")
    page.wait_for_selector("#status:has-text('-enhanced.jpg')", timeout=60_000)
    with page.expect_download() as info:
        page.click("#download")
    with Image.open(info.value.path()) as out:
        assert out.format == "JPEG"
    assert problems == []  # no script errors, no content-security-policy violations


def test_a_bad_file_and_a_wrong_token_get_clear_messages(browser, server, tmp_path):
    (tmp_path / "notes.png").write_text("these are notes, not a picture")
    (tmp_path / "ok.png").write_bytes(encode(dark((10, 10, 3))))
    problems = []
    page = open_page(browser, server, problems)
    page.fill("#token", TOKEN)
    page.set_input_files("#file", str(tmp_path / "notes.png"))
    page.wait_for_selector("#error:not(.hidden)", timeout=60_000)
    assert "cannot read the uploaded file" in page.text_content("#error")
    assert "not an image" in page.text_content("#error")

    page.set_input_files("#file", str(tmp_path / "ok.png"))
    page.wait_for_selector("#status:has-text('Done in')", timeout=60_000)
    assert page.is_visible("#after") and page.get_attribute("#download", "aria-disabled") == "false"

    # a re-run that fails leaves no earlier result beside its error
    page.fill("#token", "wrong")
    page.select_option("#format", "jpeg")
    page.wait_for_selector("#error:has-text('token')", timeout=60_000)
    assert page.get_attribute("#download", "aria-disabled") == "true"
    assert page.get_attribute("#download", "href") is None
    assert not page.is_visible("#after") and not page.is_visible("#split")
    # the browser logs the 400 and 401 answers as failed loads: nothing else
    assert all("status of 40" in p for p in problems), problems


def test_usable_on_a_phone(browser, server, tmp_path):
    (tmp_path / "nuit café.png").write_bytes(encode(dark((90, 120, 3))))
    problems = []
    page = open_page(browser, server, problems, viewport={"width": 375, "height": 740}, is_mobile=True,
                     has_touch=True, device_scale_factor=2)
    page.fill("#token", TOKEN)
    page.set_input_files("#file", str(tmp_path / "nuit café.png"))
    page.wait_for_selector("#status:has-text('Done in')", timeout=60_000)
    assert "nuit_café-enhanced.png" in page.text_content("#status")  # the name's filename*, not its ASCII fallback
    assert page.get_attribute("#download", "download") == "nuit_café-enhanced.png"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    box = page.locator("#after").bounding_box()
    assert 300 <= box["width"] <= 375
    assert page.locator("#download").bounding_box()["height"] >= 30  # big enough to tap
    assert problems == []


def test_a_result_for_a_file_no_longer_chosen_is_not_shown(browser, server, tmp_path):
    """A second file chosen while the first one's request runs: the first one's answer is dropped (it showed over
    the second's preview until the second's came). The requests are held in the browser to order them."""
    for name in ("first.png", "second.png"):
        (tmp_path / name).write_bytes(encode(dark((20, 30, 3))))
    problems, held = [], []
    page = open_page(browser, server, problems)
    page.fill("#token", TOKEN)
    page.route("**/enhance", lambda route: held.append(route))

    def wait_held(count):
        for _ in range(400):
            if len(held) >= count:
                return
            page.wait_for_timeout(25)
        raise AssertionError(f"{len(held)} requests held, not {count}")

    page.set_input_files("#file", str(tmp_path / "first.png"))
    wait_held(1)
    page.set_input_files("#file", str(tmp_path / "second.png"))
    held[0].continue_()  # the first file's answer comes while the second file is the page's
    wait_held(2)  # the second file's request is sent once the first one's answer has been dealt with
    assert not page.is_visible("#after") and "first" not in page.text_content("#status")
    assert page.get_attribute("#download", "aria-disabled") == "true"
    held[1].continue_()
    page.wait_for_selector("#status:has-text('second-enhanced.png')", timeout=60_000)
    assert page.is_visible("#after")
    assert problems == []


def test_a_health_answer_that_is_not_ok_says_so(browser, server):
    """A proxy's (or an overloaded server's) plain-text 503 on /health: the page says what came, not a JSON error."""
    problems = []
    page = browser.new_context().new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.route("**/health", lambda route: route.fulfill(status=503, content_type="text/plain",
                                                        body="Service Unavailable"))
    page.goto(server.url + "/")
    page.wait_for_selector("#error:not(.hidden)", timeout=20_000)
    assert "The server answered 503" in page.text_content("#error")
    assert "JSON" not in page.text_content("#error") and "token" not in page.text_content("#error")
    assert problems == []
