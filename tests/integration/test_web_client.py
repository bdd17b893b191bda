"""test_web_client.py: the browser client (web/, served by every gateway)
in headless Chromium, as people use it: logging in, rooms, chatting with
people in other browsers and in the command-line client across gateways,
presence and typing, scrolling back, unread counts, a gateway killed
under it, reloads, logging out, errors, a phone-sized screen and the
keyboard alone. docs/screenshots/ gets the main screens.
"""

import os
import re

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import CONFIG, Certificates, Cluster, Terminal
from harness.browser import PHONE, Browser

SLOW = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


async def browser_in(cluster, user, gateway, room, size=None):
    """A browser on a gateway's page, logged in as `user`, in `room`."""
    browser = await Browser.open(cluster.page_url(gateway), "%s@gw%d" % (user, gateway),
                                 *([size] if size else []))
    await browser.logged_in(user)
    await browser.enter(room)
    return browser


def stored_texts(messages):
    return [text for seq, _, text in messages if seq is not None]


def assert_in_order_once(messages, texts):
    """`texts` each shown exactly once, in this order, with rising seqs,
    and no message shown twice."""
    seqs = [seq for seq, _, _ in messages]
    assert None not in seqs, "still pending: %r" % (messages,)
    assert seqs == sorted(set(seqs)), "seqs out of order or twice: %r" % (messages,)
    shown = [text for _, _, text in messages]
    for text in texts:
        assert shown.count(text) == 1, "%r shown %d times: %r" % (text, shown.count(text), shown)
    at = [shown.index(text) for text in texts]
    assert at == sorted(at), "out of order: %r" % (shown,)


async def test_alex_and_sue_in_browsers_and_sandy_in_the_cli_chat_across_gateways(cluster):
    alex = await browser_in(cluster, "Alex", 0, "Taskmaster")
    sue = await browser_in(cluster, "Sue", 1, "Taskmaster", PHONE)
    sandy = Terminal.client(cluster, gateway=1)
    try:
        await sandy.log_in("Sandy", "password")
        await sandy.pick_room("Taskmaster")
        await sandy.wait_for("You are in Taskmaster.")
        for browser in (alex, sue):
            await browser.wait("everyone present", lambda d:
                               browser.text_of("present") == "Here: Alex, Sandy, Sue")

        #  Typing shows on the others' screens, then gives way to the message
        await alex.type("Did you see the last")
        await sue.wait("Alex typing", lambda d: browser_typing(sue) == "Alex is typing…")
        await sandy.wait_for("Alex is typing")
        await alex.type(" task?", Keys.ENTER)
        await sue.say("The one with the melon?")
        sandy.keys("Yes, the melon.", "Enter")

        said = ["Did you see the last task?", "The one with the melon?", "Yes, the melon."]
        for browser in (alex, sue):
            assert_in_order_once(await browser.wait_texts(said), said)
        screen = await sandy.wait_for("Sandy: Yes, the melon.")
        lines = [line for line in screen.splitlines() if line.strip()]
        heard = [next(i for i, line in enumerate(lines) if line.endswith(": " + text))
                 for text in said]
        assert heard == sorted(heard), screen
        assert await sue.call(browser_typing, sue) == "", "typing shown after the message"

        #  The phone-sized page fits its screen, nothing to scroll sideways
        width = await sue.script("return [document.documentElement.scrollWidth, innerWidth];")
        assert width[0] <= width[1], "wider than the phone: %r" % (width,)
        await alex.screenshot("chat")
        await sue.screenshot("phone")
        #  Sandy leaves: both browsers say so, and list her no more
        sandy.keys("/quit", "Enter")
        for browser in (alex, sue):
            await browser.wait("Sandy left", lambda d: browser.text_of("present")
                               == "Here: Alex, Sue" and "Sandy left" in browser.describe())
            await browser.no_page_errors()
        #  On the phone the rooms are a panel behind "Rooms", tapped
        await sue.call(sue.driver.find_element(By.ID, "rooms-toggle").click)
        await sue.wait("the rooms panel", lambda d: sue.shown("rooms"))
        await sue.call(lambda: next(button for button in sue.driver.find_elements(
            By.CSS_SELECTOR, "#room-list button.room")
            if button.get_attribute("data-room") == "Quite Interesting").click())
        await sue.wait("the room, the panel closed", lambda d: sue.text_of("room-title")
                       == "Quite Interesting" and not sue.shown("rooms"))
    finally:
        sandy.close()


def browser_typing(browser):
    return browser.text_of("typing")


async def test_sandy_cannot_see_8_out_of_10_cats(cluster):
    alex = await browser_in(cluster, "Alex", 0, "8 out of 10 cats")
    sandy = await Browser.open(cluster.page_url(1), "Sandy@gw1")
    await sandy.logged_in("Sandy")
    assert await sandy.rooms() == ["Quite Interesting", "Taskmaster"], await sandy.rooms()
    await sandy.enter("Taskmaster")
    await alex.say("cats only, Sandy")
    await alex.wait_texts(["cats only, Sandy"])
    sue = await cluster.login("Sue", gateway=1)
    await sue.join("Taskmaster")
    await sue.say("for Taskmaster", room="Taskmaster")
    await sandy.wait_texts(["for Taskmaster"])
    body = await sandy.call(sandy.describe)
    assert "cats only" not in body and "8 out of 10 cats" not in body, body
    await sandy.no_page_errors()


async def test_a_gateway_killed_and_restarted_loses_and_repeats_nothing(cluster):
    room = await cluster.new_group("Restart")
    alex = await browser_in(cluster, "Alex", 0, room)
    sue = await cluster.login("Sue", gateway=1)
    await sue.join(room)
    said = []
    for i in range(3):
        said.append("before %d" % i)
        await sue.say(said[-1], room=room)
    await alex.wait_texts(said)

    await cluster.gateways[0].kill()
    await alex.wait("the disconnected banner", lambda d: alex.shown("banner"))
    #  Typed while disconnected: shown pending, sent once back
    for i in range(2):
        await alex.say("typed offline %d" % i)
    await alex.wait("the unsent count", lambda d: "2 unsent" in alex.text_of("banner"))
    pending = [text for seq, _, text in await alex.messages() if seq is None]
    assert pending == ["typed offline 0", "typed offline 1"], pending
    for i in range(3):
        said.append("during %d" % i)
        await sue.say(said[-1], room=room)
    await alex.screenshot("reconnecting")

    cluster.gateways[0].start()
    await cluster.wait_healthy([0])
    said += ["typed offline 0", "typed offline 1"]
    messages = await alex.wait_texts(said[-2:], timeout=30)
    await alex.wait("the banner gone", lambda d: not alex.shown("banner"))
    for i in range(2):
        said.append("after %d" % i)
        await sue.say(said[-1], room=room)
    messages = await alex.wait_texts(said[-2:])
    assert_in_order_once(messages, said)
    first = messages[0][0]
    assert [seq for seq, _, _ in messages] == list(range(first, first + len(messages))), messages

    #  Stored once: the history holds each offline say once
    history = await sue.history(room, limit=20)
    texts = [m["text"] for m in history]
    assert texts.count("typed offline 0") == 1 and texts.count("typed offline 1") == 1, texts
    await alex.no_page_errors()


async def test_markup_in_messages_and_names_shows_as_text(cluster):
    name = "<i>Eve</i>"
    room = await cluster.new_group("<b>Markup</b>")
    await cluster.admin("user", "add", name, password="password")
    await cluster.admin("member", "add", name, room)
    alex = await browser_in(cluster, "Alex", 0, room)
    eve = await cluster.login(name, gateway=1)
    await eve.join(room)
    injected = "<img src=x onerror=alert(1)>"
    await eve.say(injected, room=room)
    messages = await alex.wait_texts([injected])
    assert messages[-1][1:] == [name, injected], messages
    markup = await alex.script("""
        return document.querySelectorAll('#messages img, #messages i, #room b, #rooms b').length;""")
    assert markup == 0, "markup from the network became elements"
    assert not await alex.call(alex.alert_shown), "the injected script ran"
    assert (await alex.call(alex.text_of, "room-title")) == room
    assert "%s joined" % name in await alex.call(alex.describe)
    await alex.no_page_errors()


async def test_a_reload_keeps_the_session_and_logout_ends_it(cluster):
    alex = await browser_in(cluster, "Alex", 1, "Taskmaster")
    sue = await cluster.login("Sue", gateway=0)
    await sue.join("Taskmaster")
    await sue.say("before the reload", room="Taskmaster")
    await alex.wait_texts(["before the reload"])
    token = await alex.stored("token")
    assert token, "no token kept for the tab"

    await alex.call(alex.driver.refresh)
    await alex.wait("the room again, no login", lambda d: alex.text_of("room-title")
                    == "Taskmaster" and not alex.shown("login-screen"))
    await alex.wait_texts(["before the reload"])
    await alex.say("after the reload")
    await alex.wait_texts(["before the reload", "after the reload"])

    await alex.call(alex.driver.find_element(By.ID, "logout").click)
    await alex.wait("the login form", lambda d: alex.shown("login-screen"))
    assert await alex.stored("token") is None, "the token outlived the logout"
    #  Revoked at the broker: the token logs in nowhere
    other = await cluster.client(gateway=0)
    await other.expect_error("bad_credentials", "login", token=token)
    await alex.call(alex.driver.refresh)
    await alex.wait("the login form after a reload", lambda d: alex.shown("login-screen"))
    await alex.screenshot("login")
    await alex.no_page_errors()


async def test_scrolling_up_loads_older_messages(cluster):
    room = await cluster.new_group("Scroll")
    sue = await cluster.login("Sue", gateway=1)
    await sue.join(room)
    texts = ["old %02d" % i for i in range(65)]
    await sue.say_many(texts, room=room)
    alex = await browser_in(cluster, "Alex", 0, room, (900, 400))
    await alex.wait_texts(texts[-10:])
    assert len(await alex.messages()) == 10

    await alex.script("document.getElementById('messages').scrollTop = 0;")
    await alex.wait("50 older", lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                               "#message-list li.message")) == 60)
    await alex.script("document.getElementById('messages').scrollTop = 0;")
    await alex.wait("all 65", lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                             "#message-list li.message")) == 65)
    assert await alex.texts() == texts
    await alex.wait("no more to load", lambda d: not alex.shown("earlier"))
    await alex.no_page_errors()


async def test_unread_counts_on_rooms_not_shown(cluster):
    alex = await browser_in(cluster, "Alex", 0, "Taskmaster")
    await alex.enter("8 out of 10 cats")
    sue = await cluster.login("Sue", gateway=1)
    await sue.join("Taskmaster")
    await sue.say("unread one", room="Taskmaster")
    await sue.say("unread two", room="Taskmaster")
    await alex.wait("2 unread", lambda d: alex.driver.execute_script("""
        const b = document.querySelector('#room-list button.room.joined:not([aria-current]) .unread');
        return b && b.textContent === '2';"""))
    assert await alex.unread("Taskmaster") == 2
    assert await alex.unread("8 out of 10 cats") == 0
    await alex.enter("Taskmaster")
    await alex.wait_texts(["unread one", "unread two"])
    assert await alex.unread("Taskmaster") == 0
    await alex.no_page_errors()


async def test_the_keyboard_alone(cluster):
    await cluster.add_member("Kay", "Kay's first room")
    await cluster.new_group("Kay's other room", members=("Kay",))
    browser = await Browser.open(cluster.page_url(0), "Kay@gw0")
    await browser.wait("the login form", lambda d: browser.shown("login-user"))
    #  The user name has the focus; Tab to the password, Enter logs in
    await browser.keys("Kay", Keys.TAB, "password", Keys.ENTER)
    await browser.wait("the rooms", lambda d: browser.shown("chat-screen"))
    #  Alt+Down goes to the first room, then the next; the input has the focus
    await browser.chord(Keys.ALT, Keys.ARROW_DOWN)
    await browser.wait("a room", lambda d: browser.text_of("room-title") == "Kay's first room")
    await browser.chord(Keys.ALT, Keys.ARROW_DOWN)
    await browser.wait("the next room", lambda d: browser.text_of("room-title") != "Kay's first room")
    await browser.keys("typed, never clicked", Keys.ENTER)
    await browser.wait_texts(["typed, never clicked"])
    #  Shift+Enter is a new line in the message, Enter sends it
    await browser.keys("two")
    await browser.chord(Keys.SHIFT, Keys.ENTER)
    await browser.keys("lines", Keys.ENTER)
    await browser.wait_texts(["typed, never clicked", "two\nlines"])
    #  Tab reaches the rooms' buttons; Enter on one enters it
    focused = await browser.script("""
        const button = [...document.querySelectorAll('#room-list button.room')]
            .find((b) => b.dataset.room === "Kay's first room");
        return button.tabIndex >= 0 && !button.disabled;""")
    assert focused, "a room's button is not reachable by Tab"
    await browser.no_page_errors()


async def test_errors_are_told_in_words(cluster):
    first = "Errors 1"
    await cluster.add_member("Errol", first)
    browser = await Browser.open(cluster.page_url(0), "Errol@gw0")
    await browser.log_in("Errol", "not the password")
    await browser.wait("bad credentials", lambda d: browser.shown("login-error")
                       and "Wrong user name or password" in browser.text_of("login-error"))
    await browser.logged_in("Errol")
    await browser.enter(first)
    #  Too long: told at once, the text kept to be cut, nothing sent
    await browser.script("""
        const input = document.getElementById('input');
        input.value = 'x'.repeat(4097);""")
    await browser.keys(Keys.ENTER)
    await browser.wait("too long", lambda d: "too long" in browser.text_of("notice"))
    assert len(await browser.script("return document.getElementById('input').value;")) == 4097

    #  Removed from the group while in its room
    room = await cluster.new_group("Removal", members=("Errol",))
    await browser.call(browser.driver.refresh)
    await browser.wait("the rooms", lambda d: room in browser.driver.execute_script("""
        return [...document.querySelectorAll('#room-list button.room')].map((b) => b.dataset.room);"""))
    await browser.enter(room)
    await cluster.admin("member", "remove", "Errol", room)
    await browser.wait("removed", lambda d: "removed from that group" in browser.text_of("notice")
                       and browser.text_of("room-title") != room)

    #  The password changed: the session ends, said so on the login screen
    await cluster.admin("password", "Errol", password="another password")
    await browser.wait("the session's end", lambda d: browser.shown("login-screen")
                       and "password was changed" in browser.text_of("login-error"))
    await browser.no_page_errors()


async def test_every_error_code_has_words():
    """Each code of docs/protocol.md's table is explained by the page."""
    with open(os.path.join(ROOT, "docs", "protocol.md"), encoding="utf-8") as doc:
        table = doc.read().split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    codes = set(re.findall(r"^\| ([a-z_]+) \|", table, re.M))
    with open(os.path.join(ROOT, "web", "app.js"), encoding="utf-8") as source:
        explained = set(re.findall(r"^    ([a-z_]+): \"", source.read(), re.M))
    assert len(codes) >= 13, codes
    assert codes <= explained, "codes without words: %r" % (codes - explained)


async def test_over_https_the_page_uses_wss_and_passes_the_origin_list():
    """A gateway with a certificate and an --allow-origin list that does
    not name it: its own page, over https://, connects back over wss://."""
    certs = Certificates(os.path.join(CONFIG.tmp_root, "web-certs"))
    await certs.authority("ca")
    await certs.server("gateway", "ca")
    async with Cluster(gateways=1, tls=True, per_gateway=[
            certs.gateway_args("gateway") + ["--allow-origin", "https://elsewhere.example"]]) \
            as cluster:
        browser = await browser_in(cluster, "Sue", 0, "Taskmaster")
        assert await browser.script("return location.protocol;") == "https:"
        await browser.say("over wss")
        await browser.wait_texts(["over wss"])
        await browser.no_page_errors()


async def test_a_logout_made_offline_revokes_the_token_once_back(cluster):
    """Logged out while the gateway is down: the page forgets the token at
    once and revokes it on its next connection, before the next login,
    which goes on working."""
    alex = await browser_in(cluster, "Alex", 0, "Taskmaster")
    token = await alex.stored("token")
    await cluster.gateways[0].kill()
    await alex.wait("the disconnected banner", lambda d: alex.shown("banner"))
    await alex.call(alex.driver.find_element(By.ID, "logout").click)
    await alex.wait("the login form", lambda d: alex.shown("login-screen"))
    assert await alex.stored("token") is None
    cluster.gateways[0].start()
    await cluster.wait_healthy([0])
    await alex.logged_in("Alex")
    await alex.enter("Taskmaster")
    await alex.say("logged in again")
    await alex.wait_texts(["logged in again"])
    assert await alex.stored("logout") is None, "the revocation is still waiting"
    other = await cluster.client(gateway=1)
    await other.expect_error("bad_credentials", "login", token=token)
    await alex.no_page_errors()
