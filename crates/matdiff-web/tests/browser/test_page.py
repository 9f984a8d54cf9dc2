"""Browser tests of the matdiff page: headless Chromium driven by selenium.

    pip install selenium pytest; apt-get install -y chromium chromium-driver
    MATDIFF_URL=http://127.0.0.1:8080/ pytest crates/matdiff-web/tests/browser   # a running server
    pytest crates/matdiff-web/tests/browser                                     # the mock server

Screenshots at 360 and 1440 px go to $MATDIFF_TEST_OUT (default: a temporary folder).
Only the page's stable hooks are used: data-testid attributes (see index.html).
"""

import os
import urllib.parse
import urllib.request

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

import cases

HOOKS = ["expr", "decl", "wrt", "run", "result", "error", "steps", "graph", "claim", "check",
         "verdict", "audit-input", "audit-problem", "audit-run", "audit-result"]


def tid(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')


def tids(driver, name):
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{name}"]')


def wait(driver, condition, timeout=20, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message)


def open_page(driver, base_url, query=""):
    driver.get(base_url + query)
    wait(driver, lambda d: d.execute_script("return document.documentElement.dataset.ready === '1'"),
         message="the page did not finish starting")


def type_into(el, text):
    el.clear()
    el.send_keys(text)


def set_value(driver, el, text):
    """Paste-like: set the value and fire `input` (long documents)."""
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", el, text)


def fill_derive(driver, expr=cases.AE_EXPR, decl=cases.AE_DECL, wrt=cases.AE_WRT):
    type_into(tid(driver, "expr"), expr)
    type_into(tid(driver, "decl"), decl)
    type_into(tid(driver, "wrt"), wrt)


def wait_result(driver, plain=cases.AE_GRADIENT):
    wait(driver, lambda d: tid(d, "result").get_attribute("data-plain") == plain,
         message=f"result never became {plain!r}: "
                 f"{tid(driver, 'result').get_attribute('data-plain')!r}")


def wait_derivation(driver):
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="steps"] li.step'),
         message="no derivation steps")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="graph"] svg g.node[data-linked]'),
         message="the graph was not linked to the steps")


def derive(driver, base_url):
    open_page(driver, base_url)
    fill_derive(driver)
    tid(driver, "run").click()
    wait_result(driver)


# ─────────────────────────── tests ───────────────────────────


def test_load(page, base_url):
    open_page(page, base_url)
    assert "matdiff" in page.title
    for hook in HOOKS:
        assert len(tids(page, hook)) == 1, f"data-testid={hook} should be on exactly one element"
    # Every control has an accessible name.
    unlabeled = page.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('input, textarea, select, button')) {
          if (el.type === 'hidden' || el.closest('[hidden]')) continue;
          const byLabel = el.labels && el.labels.length && [...el.labels].some(l => l.textContent.trim());
          const aria = (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
          const text = el.tagName === 'BUTTON' && el.textContent.trim();
          if (!byLabel && !aria && !text) out.push(el.outerHTML.slice(0, 120));
        }
        return out;""")
    assert unlabeled == [], unlabeled
    duplicates = page.execute_script(
        "const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
        "return ids.filter((id, i) => ids.indexOf(id) !== i);")
    assert duplicates == [], duplicates
    # The seed models in the examples menu, the problems in the audit panel.
    options = [o.get_attribute("value") for o in Select(tid(page, "examples")).options]
    assert "autoencoder" in options
    problems = [o.get_attribute("value") for o in Select(tid(page, "audit-problem")).options]
    assert cases.HOMEWORK_PROBLEM in problems
    # Everything came from the server itself.
    origins = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    base_origin = urllib.parse.urlsplit(base_url)
    assert set(origins) <= {f"{base_origin.scheme}://{base_origin.netloc}"}, origins


def test_security_headers(base_url):
    with urllib.request.urlopen(base_url) as res:
        csp = res.headers.get("Content-Security-Policy", "")
        body = res.read().decode()
    for directive in ["default-src 'self'", "style-src 'self'", "script-src 'self'",
                      "object-src 'none'", "frame-ancestors 'none'"]:
        assert directive in csp, csp
    assert "unsafe-inline" not in csp
    assert " style=" not in body and "onclick" not in body and "<script>" not in body


def test_derive(page, base_url):
    derive(page, base_url)
    result = tid(page, "result")
    assert result.get_attribute("data-state") == "done"
    # Typeset by KaTeX, with MathML for screen readers.
    assert result.find_elements(By.CSS_SELECTOR, ".katex .katex-mathml math")
    assert page.execute_script("return document.fonts.check('16px KaTeX_Main')")
    # Copy buttons for both forms, and they work without errors.
    copy_plain = tid(page, "copy-plain")
    assert copy_plain.is_displayed() and tid(page, "copy-latex").is_displayed()
    copy_plain.click()
    wait(page, lambda d: tid(d, "copy-plain").text in ("Copied", "Copy failed"))
    # The derivation and the graph.
    wait_derivation(page)
    steps = tid(page, "steps")
    text = steps.get_attribute("textContent")
    assert "Backward pass" in text and "Forward pass" in text
    assert len(steps.find_elements(By.CSS_SELECTOR, "li.step")) >= 5
    # The exported code in tabs, with a copy button.
    wait(page, lambda d: "def f_and_grad" in tid(d, "code").text)
    assert tid(page, "copy-code").is_enabled()
    page.find_element(By.ID, "tab-torch").click()
    wait(page, lambda d: "import torch" in tid(d, "code").text)
    page.find_element(By.ID, "tab-rust").click()
    wait(page, lambda d: "pub fn f_and_grad" in tid(d, "code").text)
    page.find_element(By.ID, "tab-jax").click()
    wait(page, lambda d: "jax" in tid(d, "code").text)
    # The live preview read the expression.
    preview = tid(page, "preview")
    wait(page, lambda d: preview.is_displayed() and preview.find_elements(By.CSS_SELECTOR, ".katex"))


def test_latex_input_and_ctrl_enter(page, base_url):
    open_page(page, base_url)
    fill_derive(page, expr=cases.AE_LATEX)
    tid(page, "expr").send_keys(Keys.CONTROL, Keys.ENTER)
    wait_result(page)


def test_graph_hover_highlights_step(page, base_url):
    derive(page, base_url)
    wait_derivation(page)
    graph = tid(page, "graph")
    nodes = {g.get_attribute("data-node-id"): g for g in graph.find_elements(By.CSS_SELECTOR, "g.node[data-linked]")}
    step_ids = {li.get_attribute("data-node") for li in tid(page, "steps").find_elements(By.CSS_SELECTOR, "li.step")}
    assert step_ids <= set(nodes), (step_ids, set(nodes))
    for node_id in ["0", "2"]:  # W (the differentiated input), a = W*x
        ActionChains(page).move_to_element(nodes[node_id]).perform()
        wait(page, lambda d: "is-active" in d.find_element(
            By.CSS_SELECTOR, f'[data-testid="steps"] li.step[data-node="{node_id}"]').get_attribute("class"),
            message=f"hovering node {node_id} did not highlight its step")
        active = page.find_elements(By.CSS_SELECTOR, '[data-testid="steps"] li.step.is-active')
        assert [a.get_attribute("data-node") for a in active] == [node_id]
        assert "is-active" in nodes[node_id].get_attribute("class")
        # The step is scrolled into view inside its box (where the box scrolls).
        assert page.execute_script("""
            const step = document.querySelector('[data-testid="steps"] li.step.is-active');
            const box = document.querySelector('[data-testid="steps"]');
            const a = step.getBoundingClientRect(), b = box.getBoundingClientRect();
            return a.top >= b.top - 1 && a.top < b.bottom;""")
        info = tid(page, "graph-info")
        assert info.is_displayed() and info.get_attribute("data-node") == node_id
    # W's adjoint is the sum of its two paths: both contributions are in its step.
    w_step = page.find_element(By.CSS_SELECTOR, '[data-testid="steps"] li.step[data-node="0"]')
    assert len(w_step.find_elements(By.CSS_SELECTOR, ".contribs > li")) == 2
    # Moving away clears the highlight; keyboard focus works too.
    ActionChains(page).move_to_element(tid(page, "run")).perform()
    wait(page, lambda d: not d.find_elements(By.CSS_SELECTOR, "li.step.is-active"))
    page.execute_script("arguments[0].focus()", nodes["0"])
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, 'li.step.is-active[data-node="0"]'))


def test_check_wrong_claim(page, base_url):
    open_page(page, base_url)
    fill_derive(page)
    type_into(tid(page, "claim"), cases.WRONG_CLAIM)
    tid(page, "check").click()
    verdict = tid(page, "verdict")
    wait(page, lambda d: verdict.get_attribute("data-verdict") in ("right", "wrong", "error"))
    assert verdict.get_attribute("data-verdict") == "wrong"
    assert "wrong" in verdict.text.lower() and "right" not in verdict.text.lower()
    diagnosis = tid(page, "diagnosis")
    assert "misses the path" in diagnosis.text
    table = tid(page, "counterexample")
    assert table.tag_name == "table"
    rows = [r.find_element(By.TAG_NAME, "th").text for r in table.find_elements(By.CSS_SELECTOR, ":scope > tbody > tr")]
    assert rows[:2] == ["W", "x"] and "gradient" in rows and "your claim" in rows
    assert "m = 2" in table.find_element(By.TAG_NAME, "caption").text
    assert table.find_elements(By.CSS_SELECTOR, "td.differs")
    # A right claim, for contrast.
    type_into(tid(page, "claim"), cases.RIGHT_CLAIM)
    tid(page, "claim").send_keys(Keys.CONTROL, Keys.ENTER)
    wait(page, lambda d: tid(d, "verdict").get_attribute("data-verdict") == "right")
    assert "right" in tid(page, "verdict").text.lower()


def test_audit_pasted_document(page, base_url):
    open_page(page, base_url)
    set_value(page, tid(page, "audit-input"), cases.HOMEWORK)
    Select(tid(page, "audit-problem")).select_by_value(cases.HOMEWORK_PROBLEM)
    tid(page, "audit-run").click()
    result = tid(page, "audit-result")
    wait(page, lambda d: result.get_attribute("data-state") in ("done", "error"))
    assert result.get_attribute("data-state") == "done", result.text
    assert result.get_attribute("data-first-wrong-line") == str(cases.HOMEWORK_FIRST_WRONG_LINE)
    question = result.find_element(By.CSS_SELECTOR, '[data-testid="audit-question"]')
    assert question.get_attribute("data-answer") == "wrong"
    steps = question.find_elements(By.CSS_SELECTOR, "li.audit-step")
    assert [s.get_attribute("data-status") for s in steps] == ["right", "right", "right", "wrong"]
    first = result.find_element(By.CSS_SELECTOR, '[data-testid="audit-first-wrong-step"]')
    assert first.get_attribute("data-line") == str(cases.HOMEWORK_FIRST_WRONG_LINE)
    # The first wrong step is highlighted in the text of the document.
    mark = result.find_element(By.CSS_SELECTOR, '[data-testid="audit-first-wrong"]')
    assert mark.text == "2W(W^T W - I)xx^T"
    line = mark.find_element(By.XPATH, "ancestor::li[1]")
    assert line.get_attribute("data-line") == str(cases.HOMEWORK_FIRST_WRONG_LINE)
    assert "is-first-wrong" in line.get_attribute("class")
    assert mark.is_displayed()


def test_syntax_error(page, base_url):
    open_page(page, base_url)
    fill_derive(page, expr=cases.BAD_EXPR)
    tid(page, "run").click()
    error = tid(page, "error")
    wait(page, lambda d: error.is_displayed(), message="no error shown")
    assert "unclosed" in error.text
    assert tid(page, "result").get_attribute("data-plain") == ""
    assert tid(page, "result").get_attribute("data-state") == "error"
    expr = tid(page, "expr")
    assert expr.get_attribute("aria-invalid") == "true"
    # The span is highlighted in the input itself (the layer behind the text) ...
    mark = page.find_element(By.CSS_SELECTOR, '.hl-field[data-for="expr"] .hl-backdrop mark')
    assert page.execute_script("return arguments[0].textContent", mark) == cases.BAD_SPAN_TEXT
    start = cases.BAD_EXPR.index(cases.BAD_SPAN_TEXT)
    assert page.execute_script("return [arguments[0].selectionStart, arguments[0].selectionEnd]", expr) == [start, start + 1]
    # ... and in the error's excerpt of the line.
    assert error.find_element(By.CSS_SELECTOR, ".error-excerpt mark").text == cases.BAD_SPAN_TEXT
    # Editing the expression clears the mark; fixing it gives a result.
    type_into(expr, cases.AE_EXPR)
    tid(page, "run").click()
    wait_result(page)
    assert not error.is_displayed()
    assert expr.get_attribute("aria-invalid") is None


def test_state_in_url(page, base_url):
    open_page(page, base_url)
    fill_derive(page)
    type_into(tid(page, "claim"), cases.WRONG_CLAIM)
    tid(page, "run").click()
    wait_result(page)
    tid(page, "check").click()
    wait(page, lambda d: tid(d, "verdict").get_attribute("data-verdict") == "wrong")
    url = page.current_url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["expr"] == [cases.AE_EXPR] and query["wrt"] == [cases.AE_WRT]
    assert query["claim"] == [cases.WRONG_CLAIM]
    page.get("about:blank")
    open_page(page, base_url, url[len(base_url):])
    assert tid(page, "expr").get_attribute("value") == cases.AE_EXPR
    assert tid(page, "decl").get_attribute("value") == cases.AE_DECL
    wait_result(page)
    wait(page, lambda d: tid(d, "verdict").get_attribute("data-verdict") == "wrong")


def test_examples_menu(page, base_url):
    open_page(page, base_url)
    Select(tid(page, "examples")).select_by_value("autoencoder")
    wait_result(page)
    assert tid(page, "expr").get_attribute("value") == cases.AE_EXPR
    assert tid(page, "wrt").get_attribute("value") == "W"


@pytest.mark.parametrize("width", [360, 1440])
def test_screenshots(page, base_url, out_dir, width):
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    query = "?" + urllib.parse.urlencode({"expr": cases.AE_EXPR, "decl": cases.AE_DECL,
                                          "wrt": cases.AE_WRT, "claim": cases.WRONG_CLAIM})
    open_page(page, base_url, query)
    assert page.execute_script("return window.innerWidth") == width
    wait_result(page)
    wait_derivation(page)
    wait(page, lambda d: tid(d, "verdict").get_attribute("data-verdict") == "wrong")
    wait(page, lambda d: "def f_and_grad" in tid(d, "code").text)
    set_value(page, tid(page, "audit-input"), cases.HOMEWORK)
    Select(tid(page, "audit-problem")).select_by_value(cases.HOMEWORK_PROBLEM)
    tid(page, "audit-run").click()
    wait(page, lambda d: tid(d, "audit-result").get_attribute("data-state") == "done")
    # Hover W in the graph, so the screenshot shows the linking.
    node = page.find_element(By.CSS_SELECTOR, '[data-testid="graph"] g.node[data-node-id="0"]')
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", node)
    ActionChains(page).move_to_element(node).perform()
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "li.step.is-active"))
    # No horizontal scrolling: long math and code scroll inside their boxes.
    overflow = page.execute_script("""
        const w = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
          const r = el.getBoundingClientRect();
          if (r.width && r.right > w + 1 && !el.closest('.math-block, .math-scroll, .code, .table-scroll, .katex, .graph, .step-head, .contrib-math, .step-result, .error-excerpt'))
            out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
        }
        return [document.documentElement.scrollWidth, w, out.slice(0, 10)];""")
    assert overflow[0] <= overflow[1], f"horizontal scrolling at {width}px: {overflow}"
    assert overflow[2] == [], overflow
    page.execute_script("window.scrollTo(0, 0)")
    page.save_screenshot(os.path.join(out_dir, f"page-{width}-top.png"))
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    page.save_screenshot(os.path.join(out_dir, f"page-{width}.png"))
    # And with an error showing.
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    type_into(tid(page, "expr"), cases.BAD_EXPR)
    tid(page, "run").click()
    wait(page, lambda d: tid(d, "error").is_displayed())
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", tid(page, "error"))
    page.save_screenshot(os.path.join(out_dir, f"error-{width}.png"))
    assert os.path.getsize(os.path.join(out_dir, f"page-{width}.png")) > 10000


def test_several_variables(page, base_url):
    open_page(page, base_url)
    Select(tid(page, "examples")).select_by_value("ppca")
    wait(page, lambda d: tid(d, "result").get_attribute("data-plain"))
    lines = tid(page, "result").get_attribute("data-plain").split("\n")
    assert [line.split(":")[0] for line in lines] == ["U", "S"]
    assert lines[1] == "S: -0.5*inv(U*U' + s*eye(d))"
    blocks = tid(page, "result").find_elements(By.CSS_SELECTOR, ".grad[data-wrt]")
    assert [b.get_attribute("data-wrt") for b in blocks] == ["U", "S"]
    assert len(tids(page, "copy-plain")) == 2
    wait_derivation(page)


def test_audit_pasted_problem_file(page, base_url):
    open_page(page, base_url)
    problems = os.path.join(cases.HERE, "..", "..", "..", "..", "problems")
    with open(os.path.join(problems, cases.HOMEWORK_PROBLEM + ".toml")) as f:
        problem = f.read()
    Select(tid(page, "audit-problem")).select_by_value("__custom__")
    text = tid(page, "audit-problem-text")
    assert text.is_displayed()
    set_value(page, text, problem)
    set_value(page, tid(page, "audit-input"), cases.HOMEWORK)
    tid(page, "audit-input").send_keys(Keys.CONTROL, Keys.ENTER)
    wait(page, lambda d: tid(d, "audit-result").get_attribute("data-state") == "done")
    assert tid(page, "audit-result").get_attribute("data-first-wrong-line") == str(cases.HOMEWORK_FIRST_WRONG_LINE)
