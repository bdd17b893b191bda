"""browser.py: the browser client in a real browser, headless Chromium
driven by Debian's chromium-driver through Selenium's Python bindings.

Each Browser is a Chromium of its own (its own profile, so its own
sessionStorage), closed by the runner at the end of the test. Selenium
blocks, so every call runs in a thread and the event loop goes on serving
the test's other clients. What the tests read is what the page shows:
the messages' elements, the banner, the rooms' unread badges. Screenshots
go to docs/screenshots/, so the pictures in the docs are those of the last
run.
"""

import asyncio
import os
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .config import CONFIG, deadline
from .scope import SCOPE
from .seed import PASSWORD

SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")
DESKTOP = (1100, 720)
PHONE = (390, 780)
HEADLESS_MIN_WIDTH = 500

#  Console lines of the page that are not its faults: a gateway killed on
#  purpose makes Chromium log the refused WebSocket
EXPECTED_LOGS = ("WebSocket connection to", "favicon.ico")


class Browser:
    """One headless Chromium with one tab, on the page at `url`."""

    def __init__(self, name, size):
        self.name = name
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=CONFIG.tmp_root)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--no-first-run", "--lang=en-GB",
                         "--user-data-dir=" + self.profile,
                         "--window-size=%d,%d" % size,
                         "--ignore-certificate-errors"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                       options=options)
        self.logs = []
        SCOPE.closers.append(self.close)
        if size[0] < HEADLESS_MIN_WIDTH:
            #  Narrower than a headless window can be: a phone's viewport
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": size[0], "height": size[1], "deviceScaleFactor": 1,
                "mobile": True})

    @classmethod
    async def open(cls, url, name, size=DESKTOP):
        """A new browser showing `url`, the page loaded."""
        browser = await asyncio.to_thread(cls, name, size)
        await browser.call(browser.driver.get, url)
        return browser

    def close(self):
        if self.driver:
            try:
                self.driver.quit()
            except WebDriverException:
                pass
            self.driver = None
        shutil.rmtree(self.profile, ignore_errors=True)

    async def call(self, function, *args):
        return await asyncio.to_thread(function, *args)

    async def script(self, source, *args):
        return await self.call(self.driver.execute_script, source, *args)

    async def wait(self, what, predicate, timeout=10):
        """Polls predicate(driver), in a thread, until it returns something
        true, within a deadline; returns that."""
        def poll():
            end = time.monotonic() + deadline(timeout)
            last = None
            while time.monotonic() < end:
                try:
                    value = predicate(self.driver)
                    if value:
                        return value
                except WebDriverException as error:
                    last = error
                time.sleep(0.05)        # page polling interval
            raise AssertionError("%s: %s not seen within %s s (%s)\n%s" % (
                self.name, what, deadline(timeout), last, self.describe()))
        return await asyncio.to_thread(poll)

    def describe(self):
        """What the page shows, for a failure's message."""
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException as error:
            return "(page unreadable: %s)" % error

    # What the page shows ---------------------------------------------------

    def shown(self, element_id):
        element = self.driver.find_element(By.ID, element_id)
        return element.is_displayed() and element

    def text_of(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    async def messages(self):
        """The shown room's messages, [(seq, from, text)], top to bottom;
        pending says have seq None."""
        return await self.script("""
            return [...document.querySelectorAll('#message-list li.message')].map((item) =>
                [item.dataset.seq ? Number(item.dataset.seq) : null,
                 item.querySelector('.from').textContent,
                 item.querySelector('.text').textContent]);""")

    async def texts(self):
        return [text for _, _, text in await self.messages()]

    async def wait_texts(self, texts, timeout=10):
        """Waits until the shown room's last messages are `texts`, stored
        (with seqs), and returns every message shown."""
        def done(driver):
            shown = driver.execute_script("""
                return [...document.querySelectorAll('#message-list li.message')].map(
                    (item) => [item.dataset.seq || '', item.querySelector('.text').textContent]);""")
            tail = shown[-len(texts):] if texts else []
            return [t for _, t in tail] == list(texts) and all(s for s, _ in tail)
        await self.wait("messages %r" % (texts,), done, timeout)
        return await self.messages()

    async def rooms(self):
        return await self.script("""
            return [...document.querySelectorAll('#room-list button.room')].map(
                (button) => button.dataset.room);""")

    async def unread(self, room):
        return await self.script("""
            const button = [...document.querySelectorAll('#room-list button.room')]
                .find((b) => b.dataset.room === arguments[0]);
            const badge = button && button.querySelector('.unread');
            return badge ? Number(badge.textContent) : 0;""", room)

    async def stored(self, name):
        """A value the page keeps in sessionStorage (token, user...)."""
        return await self.script("return sessionStorage.getItem('groupchat.' + arguments[0]);",
                                 name)

    def alert_shown(self):
        try:
            self.driver.switch_to.alert
            return True
        except NoAlertPresentException:
            return False

    def page_errors(self):
        """Console errors of the page that are its own faults: an exception
        thrown, a Content-Security-Policy refusal."""
        self.logs += self.driver.get_log("browser")
        return [entry["message"] for entry in self.logs
                if entry["level"] == "SEVERE"
                and not any(expected in entry["message"] for expected in EXPECTED_LOGS)]

    async def no_page_errors(self):
        errors = await self.call(self.page_errors)
        assert not errors, "%s: the page logged errors: %r" % (self.name, errors)

    # What a person does ----------------------------------------------------

    async def log_in(self, user, password=PASSWORD):
        await self.wait("the login form", lambda d: self.shown("login-user")
                        and d.find_element(By.ID, "login-submit").is_enabled())

        def fill():
            self.driver.find_element(By.ID, "login-user").clear()
            self.driver.find_element(By.ID, "login-user").send_keys(user)
            self.driver.find_element(By.ID, "login-password").clear()
            self.driver.find_element(By.ID, "login-password").send_keys(password, Keys.ENTER)
        await self.call(fill)

    async def logged_in(self, user, password=PASSWORD):
        """Logs in and waits for the rooms. Under valgrind the broker's
        hash may outlast a request's deadline: an `unavailable` is tried
        again, as a person would."""
        for attempt in range(3):
            #  An earlier attempt's error must not pass for this one's
            await self.script("document.getElementById('login-error').hidden = true;")
            await self.log_in(user, password)
            shown = await self.wait("the rooms or an error", lambda d:
                                    self.shown("chat-screen") or self.shown("login-error"))
            if shown.get_attribute("id") == "chat-screen":
                return
            error = await self.call(self.text_of, "login-error")
            assert "not answering" in error, "%s: login refused: %s" % (self.name, error)
        raise AssertionError("%s: login unavailable 3 times" % self.name)

    async def enter(self, room):
        """Clicks the room in the rooms list; waits until it is shown."""
        def click():
            self.driver.execute_script("""
                [...document.querySelectorAll('#room-list button.room')]
                    .find((b) => b.dataset.room === arguments[0]).click();""", room)
        await self.call(click)
        await self.wait("room %s shown" % room,
                        lambda d: self.text_of("room-title") == room
                        and not d.find_element(By.ID, "input").get_property("disabled"))

    async def type(self, *keys):
        await self.call(self.driver.find_element(By.ID, "input").send_keys, *keys)

    async def say(self, text):
        await self.type(text, Keys.ENTER)

    async def keys(self, *keys):
        """Keys sent to whatever has the focus, as a keyboard would."""
        def press():
            webdriver.ActionChains(self.driver).send_keys(*keys).perform()
        await self.call(press)

    async def chord(self, modifier, key):
        """A key pressed with a modifier held (Alt+Down, Shift+Enter)."""
        def press():
            webdriver.ActionChains(self.driver).key_down(modifier).send_keys(key) \
                .key_up(modifier).perform()
        await self.call(press)

    async def screenshot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        await self.call(self.driver.save_screenshot, os.path.join(SHOTS, name + ".png"))
