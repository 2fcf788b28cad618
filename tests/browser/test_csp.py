"""Every HTML page carries a strict Content-Security-Policy, and the UI works under it: Chromium
reports no violation while the app, the account pages and the API docs load and an image is
generated and shown."""

from __future__ import annotations

import pytest

from tests.browser.helpers import PASSWORD, finished, generate, unique


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/signup/", "/", "/gallery", "/settings/", "/v1/docs"])
def test_html_pages_carry_a_strict_policy(client, alice, path):
    client.force_login(alice)
    response = client.get(path, follow=True)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no third party
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert policy["connect-src"] == "'self' ws://testserver"
    if path != "/v1/docs":
        assert policy["style-src"] == "'self'"


@pytest.mark.django_db
def test_json_responses_need_no_policy(alice_api):
    assert "Content-Security-Policy" not in alice_api.get("/v1/apps/images/models")


@pytest.mark.browser
@pytest.mark.xdist_group("browser-csp")
def test_the_ui_runs_without_a_single_violation(browser, stack):
    watch = (
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.__violations.push("
        "`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"
    )
    context = browser.new_context(base_url=stack.url)
    context.add_init_script(watch)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    seen: list[str] = []
    page.goto("/signup/")
    seen += page.evaluate("window.__violations")
    page.fill("input[name=username]", unique("csp"))
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    page.wait_for_selector("[data-testid=connection][data-state=online]", state="attached")
    finished(page, generate(page, "a lighthouse at dusk"))
    seen += page.evaluate("window.__violations")
    page.goto("/settings/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof dialog") == "object"  # its script (now a file) ran
    seen += page.evaluate("window.__violations")
    page.goto("/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)  # the docs rendered
    seen += page.evaluate("window.__violations")
    context.close()
    assert seen == [], seen
    assert not [line for line in console if "Content Security Policy" in line], console
