"""End to end in headless Chromium against the service on loopback, with screenshots.

Each page the journey passes is saved as a PNG, at desktop and phone widths, under
artifacts/screenshots/ (kept by CI as artefacts).
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import PASSWORD, RunningServer, login
from tests.web.conftest import SiteFactory, submit

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}
NEW_PASSWORD = "a brand new passphrase"
# axe-core from the npm registry, fetched once into a test-only folder (not in the repo).
AXE_DIR = SHOTS.parent / "axe"
AXE_VERSION = "4"
# What no page may have; moderate and minor findings are looked at by hand.
BLOCKING_IMPACTS = {"serious", "critical"}

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)",
)

webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The browser journey on SQLite only: the storage is proven by the other tests."""
    path = tmp_path / "data" / "portcullis.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def axe_script() -> str | None:
    """axe.min.js, fetched with ``npm pack`` on first use; None if it cannot be had."""
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists() and shutil.which("npm"):
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent", "--pack-destination", "."],
                cwd=AXE_DIR,
                check=True,
                timeout=180,
                capture_output=True,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        for packed in AXE_DIR.glob("axe-core-*.tgz"):
            with tarfile.open(packed) as archive:
                archive.extract("package/axe.min.js", AXE_DIR, filter="data")
    return script.read_text() if script.exists() else None


@pytest.fixture(scope="session")
def axe() -> str | None:
    return axe_script()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chrome'}",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


class Person:
    """A person at the browser: opens pages, fills labelled fields, presses buttons, looks."""

    def __init__(self, driver: WebDriver, site: RunningServer, axe: str | None = None):
        self.driver = driver
        self.site = site
        self.axe = axe
        self.audited: list[str] = []

    def open(self, path_or_url: str) -> None:
        url = path_or_url if "://" in path_or_url else self.site.url + path_or_url
        self.driver.get(url)

    def fill(self, label: str, value: str) -> None:
        found = self.driver.find_element(By.XPATH, f'//label[normalize-space(.)="{label}"]')
        field = self.driver.find_element(By.ID, found.get_attribute("for") or "")
        field.clear()
        field.send_keys(value)

    def value_of(self, label: str) -> str:
        found = self.driver.find_element(By.XPATH, f'//label[normalize-space(.)="{label}"]')
        field = self.driver.find_element(By.ID, found.get_attribute("for") or "")
        return str(field.get_attribute("value"))

    def press(self, button: str) -> None:
        """Press the button and wait for the page it sends the form to."""
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.XPATH, f'//button[normalize-space(.)="{button}"]').click()
        self._wait_for_new_page(old_page)

    def follow(self, link: str) -> None:
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.LINK_TEXT, link).click()
        self._wait_for_new_page(old_page)

    def _wait_for_new_page(self, old_page: WebElement) -> None:
        def old_page_gone(_: WebDriver) -> bool:
            try:
                old_page.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as error:
                # Chromium sometimes says "stale" in other words while it tears the old
                # document down.
                return "does not belong to the document" in str(error)
            return False

        wait = WebDriverWait(self.driver, 10)
        wait.until(old_page_gone)
        # Gone is not enough: reading a page still being parsed once met that same error.
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    @property
    def heading(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    @property
    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    @property
    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.site.url)

    def violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical findings on this page (run by the driver, which
        the pages' Content-Security-Policy does not restrict)."""
        assert self.axe is not None
        self.driver.execute_script(self.axe)
        found = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations), e => done([{id: 'axe failed', impact: 'critical',"
            " help: String(e), nodes: []}]));"
        )
        return [v for v in found if v.get("impact") in BLOCKING_IMPACTS]

    def audit(self, name: str) -> None:
        """No serious or critical accessibility finding on this page, when axe is at hand."""
        if self.axe is None:
            return
        found = self.violations()
        summary = [(v["id"], v["help"], [n.get("target") for n in v["nodes"]]) for v in found]
        assert not found, (name, summary)
        self.audited.append(name)

    def shot(self, name: str) -> None:
        """Check the page with axe, save it whole at each width, then go back to desktop."""
        self.audit(name)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for device, width in WIDTHS.items():
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, max(600, int(height) + 120))
            self.driver.save_screenshot(str(SHOTS / f"{name}-{device}.png"))
        self.driver.set_window_size(WIDTHS["desktop"], 900)

    def sign_in(self, who: str, password: str) -> None:
        self.open("/account/signin")
        self.fill("E-mail address or username", who)
        self.fill("Password", password)
        self.press("Sign in")


@pytest.fixture
def person(browser: WebDriver, make_site: SiteFactory, axe: str | None) -> Person:
    return Person(browser, make_site(product_name="Portcullis"), axe)


def session_token(person: Person) -> str:
    cookie = person.driver.get_cookie("portcullis-session")
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    return str(cookie["value"])


def alive(site: RunningServer, token: str) -> bool:
    with site.client() as api:
        return api.get("/auth/profile", headers={"X-Session-Token": token}).status_code == 200


def test_register_activate_sign_in_reset_and_sign_out_everywhere(person: Person) -> None:
    site = person.site
    person.open("/account/register")
    assert person.heading == "Register" and "At least 8 characters" in person.text
    person.fill("Full name", "Ada Lovelace")
    person.fill("E-mail address", "ada@example.org")
    person.fill("Password", PASSWORD)
    person.shot("register")
    person.press("Register")
    assert person.heading == "Check your mail"
    person.shot("register-check-mail")

    # Opening the link only asks: mail scanners open links too.
    person.open(site.wait_for_mail("ada@example.org", "Activation").link)
    assert person.heading == "Activate your account"
    person.shot("activate")
    person.press("Activate my account")
    assert person.heading == "Account activated"
    person.shot("activated")

    person.sign_in("ada@example.org", PASSWORD)
    assert person.path == "/account/profile"
    assert person.value_of("Full name") == "Ada Lovelace" and "This browser" in person.text
    first_session = session_token(person)
    person.shot("profile")

    person.open("/account/signin")
    person.follow("Forgot your password?")
    person.fill("E-mail address", "ada@example.org")
    person.shot("forgot")
    person.press("Send me a link")
    assert person.heading == "Check your mail" and "If an account uses that address" in person.text
    person.shot("forgot-check-mail")

    reset_link = site.wait_for_mail("ada@example.org", "Reset").link
    person.open(reset_link)
    assert person.heading == "Set a new password" and "At least 8 characters" in person.text
    person.shot("reset")
    person.fill("New password", "password")
    person.press("Set the new password")
    assert "too common" in person.text and "must not contain" not in person.text
    person.fill("New password", "ada")
    person.press("Set the new password")
    assert "at least 8 characters" in person.text and "must not contain" in person.text
    person.shot("reset-rules-failing")
    person.fill("New password", NEW_PASSWORD)
    person.press("Set the new password")
    assert person.heading == "Sign in" and "signed out everywhere" in person.text
    person.shot("reset-done")

    assert not alive(site, first_session)
    person.open("/account/profile")
    assert person.path == "/account/signin"

    person.sign_in("ada@example.org", NEW_PASSWORD)
    assert person.path == "/account/profile"
    with site.client() as api:
        other = login(api, "ada@example.org", NEW_PASSWORD)
    person.open("/account/profile")
    assert person.text.count("End this session") == 2
    person.shot("profile-two-sessions")
    this_session = session_token(person)
    person.press("Sign out everywhere")
    assert person.heading == "Sign in" and "signed out everywhere" in person.text
    person.shot("signed-out-everywhere")
    assert not alive(site, this_session) and not alive(site, other)


def test_error_pages(person: Person) -> None:
    site = person.site
    person.open("/account/register")
    person.fill("Full name", "Ada Lovelace")
    person.fill("E-mail address", "not-an-address@nowhere")
    person.fill("Password", "qwerty")
    # The browser's own checks would stop an invalid address: the server's words are the test.
    person.driver.execute_script("document.forms[0].noValidate = true")
    person.press("Register")
    assert "The provided email is not valid" in person.text and "too common" in person.text
    error = person.driver.find_element(By.ID, "email-error")  # beside the field too
    assert "not valid" in error.text
    described = person.driver.find_element(By.ID, "email").get_attribute("aria-describedby")
    assert "email-error" in str(described)
    person.shot("register-problems")

    person.fill("E-mail address", "ada@example.org")
    person.fill("Password", PASSWORD)
    person.press("Register")
    link = site.wait_for_mail("ada@example.org", "Activation").link
    person.open(link)
    person.press("Activate my account")
    person.open(link)
    assert person.heading == "Activation link not valid"
    assert "already been used or has expired" in person.text
    person.shot("activation-used")

    person.sign_in("ada@example.org", "not my password")
    assert "The e-mail address, username or password is wrong." in person.text
    person.shot("signin-wrong-password")

    person.open("/account/password/reset/no-such-key")  # said before any password is typed
    assert "already been used or has expired" in person.text
    assert not person.driver.find_elements(By.ID, "password")
    person.shot("reset-link-used")

    person.open("/account/no-such-page")
    assert person.heading == "Page not found"
    person.shot("not-found")


def rule_states(person: Person) -> dict[str, str]:
    """Each checked rule of the password rules, by its check: met, unmet or (none yet)."""
    states = {}
    for item in person.driver.find_elements(By.CSS_SELECTOR, "#password-rules li[data-check]"):
        classes = (item.get_attribute("class") or "").split()
        state = "met" if "met" in classes else "unmet" if "unmet" in classes else ""
        states[str(item.get_attribute("data-check"))] = state
    return states


def test_password_rules_as_one_types_and_a_show_password_toggle(person: Person) -> None:
    person.open("/account/register")
    # The list of breached passwords is the server's to check, when the form is sent.
    assert rule_states(person) == {"length": "", "common": "", "repeated": "", "personal": ""}
    person.fill("E-mail address", "ada@example.org")
    person.fill("Password", "ada")
    assert rule_states(person) == {
        "length": "unmet",
        "common": "",
        "repeated": "met",
        "personal": "unmet",
    }
    person.shot("register-rules-typing")
    person.fill("Password", NEW_PASSWORD)
    assert rule_states(person) == {
        "length": "met",
        "common": "",
        "repeated": "met",
        "personal": "met",
    }

    field = person.driver.find_element(By.ID, "password")
    toggle = person.driver.find_element(By.XPATH, '//button[normalize-space(.)="Show password"]')
    assert field.get_attribute("type") == "password"
    toggle.click()
    assert field.get_attribute("type") == "text"
    assert toggle.text == "Hide password" and toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert field.get_attribute("type") == "password"


def test_every_page_passes_axe(person: Person) -> None:
    """Each page a person can reach, checked by axe-core in Chromium (and shot)."""
    site = person.site
    for path, name in (
        ("/account/signin", "signin"),
        ("/account/register", ""),
        ("/account/register/check-mail", ""),
        ("/account/password/forgot", ""),
        ("/account/password/forgot/check-mail", ""),
        ("/account/activation/resend", "resend"),
        ("/account/activation/resend/check-mail", "resend-check-mail"),
        ("/account/password/reset/no-such-key", ""),
        ("/account/activate/no-such-key", ""),
        ("/account/no-such-page", ""),
        ("/", "root"),
    ):
        person.open(path)
        if name:
            person.shot(name)
        else:
            person.audit(path)
    link_colour = "return getComputedStyle(document.querySelector('main a')).color"
    assert person.driver.execute_script(link_colour) == "rgb(29, 79, 115)"  # the brand's
    person.open("/account/register")
    person.fill("Full name", "Ada Lovelace")
    person.fill("E-mail address", "ada@example.org")
    person.fill("Password", "ada")
    person.audit("register, rules typed")
    person.press("Register")
    person.audit("register, refused")
    person.fill("Password", PASSWORD)
    person.press("Register")
    link = site.wait_for_mail("ada@example.org", "Activation").link
    person.open(link)
    person.audit("activate")
    person.press("Activate my account")
    person.audit("activated")
    person.open(mailed_link(site))
    person.audit("reset")
    person.sign_in("ada@example.org", PASSWORD)
    assert person.path == "/account/profile"
    person.fill("Username (optional)", "no spaces")
    person.fill("ORCID iD (optional, like 0000-0002-1825-0097)", "1234")
    # The browser's own check of the ORCID pattern would stop it: the server's is the test.
    person.driver.execute_script(
        "document.querySelector('form[action$=\"/profile/details\"]').noValidate = true"
    )
    person.press("Save my details")
    person.shot("profile-details-refused")
    person.fill("Username (optional)", "ada")
    person.fill("ORCID iD (optional, like 0000-0002-1825-0097)", "0000-0002-1825-0097")
    person.press("Save my details")
    assert "Your profile is saved." in person.text
    person.shot("profile-saved")
    person.fill("New e-mail address", "ada@new.example")
    person.press("Send a confirmation link")
    assert "We have sent a link to ada@new.example" in person.text
    person.shot("profile-email-link-sent")
    person.fill("Your password", "wrong")
    person.press("Delete my account")
    assert "The password is wrong." in person.text
    person.shot("profile-delete-refused")
    person.fill("Your password", PASSWORD)
    person.press("Delete my account")
    assert person.heading == "Sign in" and "Your account is deleted" in person.text
    person.shot("account-deleted")
    if person.axe is None:
        pytest.skip("axe-core could not be had from the npm registry (npm pack axe-core)")
    assert len(person.audited) == 21


def test_a_german_browser(browser: WebDriver, make_site: SiteFactory, axe: str | None) -> None:
    person = Person(browser, make_site(language="de"), axe)
    person.open("/account/register")
    assert person.heading == "Registrieren"
    person.fill("Passwort", "ab")
    assert "Passwort zeigen" in person.text and "Mindestens 8 Zeichen" in person.text
    assert "Show password" not in person.text and "At least" not in person.text
    person.shot("register-german")


def mailed_link(site: RunningServer) -> str:
    with site.client() as client:
        submit(client, "/account/password/forgot", email="ada@example.org")
    return site.wait_for_mail("ada@example.org", "Reset").link


class Keyboard:
    """A person who uses the keyboard only: Tab to move, typing, Enter to act."""

    def __init__(self, person: Person):
        self.person = person
        self.driver = person.driver

    def focused(self) -> str:
        element = self.driver.switch_to.active_element
        return str(element.get_attribute("id") or element.text)

    def tab_to(self, target: str, most: int = 15) -> None:
        """Press Tab until ``target`` (an element's id, or a button's or link's words) has
        the focus."""
        for _ in range(most):
            if self.focused() == target:
                return
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
        assert self.focused() == target, f"Tab never reached {target!r}"

    def type(self, text: str) -> None:
        ActionChains(self.driver).send_keys(text).perform()

    def enter(self) -> None:
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        ActionChains(self.driver).send_keys(Keys.ENTER).perform()
        self.person._wait_for_new_page(old_page)


def test_keyboard_only_register_sign_in_and_reset(person: Person) -> None:
    site, keys = person.site, Keyboard(person)
    person.open("/account/register")
    for field, value in (
        ("name", "Ada Lovelace"),
        ("email", "ada@example.org"),
        ("password", PASSWORD),
    ):
        keys.tab_to(field)
        keys.type(value)
    keys.tab_to("Register")
    keys.enter()
    assert person.heading == "Check your mail"
    person.open(site.wait_for_mail("ada@example.org", "Activation").link)
    keys.tab_to("Activate my account")
    keys.enter()
    assert person.heading == "Account activated"

    person.open("/account/signin")
    assert keys.focused() == "login"  # the first field has the focus already
    keys.type("ada@example.org")
    keys.tab_to("password")
    keys.type(PASSWORD)
    keys.tab_to("Sign in")
    keys.enter()
    assert person.path == "/account/profile"
    keys.tab_to("Sign out")
    keys.enter()
    assert person.heading == "Sign in"

    keys.tab_to("Forgot your password?")
    keys.enter()
    assert keys.focused() == "email"
    keys.type("ada@example.org")
    keys.tab_to("Send me a link")
    keys.enter()
    person.open(site.wait_for_mail("ada@example.org", "Reset").link)
    assert keys.focused() == "password"
    keys.type(NEW_PASSWORD)
    keys.tab_to("Set the new password")
    keys.enter()
    assert person.heading == "Sign in" and "Your new password is set" in person.text


def test_the_api_docs_render_under_the_pages_policy(
    browser: WebDriver, make_site: SiteFactory
) -> None:
    site = make_site(api_docs=True)
    browser.get(f"{site.url}/docs")
    operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    assert len(operations) > 40  # Swagger UI drew every operation of both dialects
    shown = {element.get_attribute("data-path") for element in operations}
    assert {"/auth/login", "/api/login"} <= shown
    refused = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refused == []
