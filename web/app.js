/*  app.js: the browser client's start, and what ties the page to the
    session: the person's clicks and keys become requests (session.js),
    the session's events become drawing (view.js).

    It connects back to the gateway that served it, ws:// or wss:// to
    match the page. Keyboard alone: Enter sends (Shift+Enter a new line),
    Alt+Up and Alt+Down go to the room above or below, Escape closes the
    rooms list on a narrow screen. */

import {Session, DISCONNECTED} from "./session.js";
import {View, $} from "./view.js";

const HISTORY_PAGE = 50;                //  messages per scroll back
const SCROLL_BACK_PX = 40;              //  this close to the top loads more
const TEXT_MAX_BYTES = 4096;
const INPUT_MAX_PX = 160;

//  What each error code means to the person; the server's own message
//  for a code this page does not know
const EXPLAINED = {
    bad_request: "The gateway did not understand a request from this page.",
    not_logged_in: "You are not logged in.",
    bad_credentials: "Wrong user name or password.",
    no_such_room: "There is no such room.",
    not_member: "You are not a member of that group.",
    not_in_room: "You are not in that room: join it first.",
    too_long: "That message is too long: at most 4096 bytes.",
    empty_text: "An empty message is not sent.",
    rate_limited: "Too many requests: slow down a little.",
    unavailable: "The service is not answering right now: nothing was done; try again.",
    conflict: "A message with the same nonce and another text was already sent.",
    too_many_connections: "You have too many connections open here: close a tab or two.",
    too_many_rooms: "You are in too many rooms: leave one first.",
    left: "You were removed from that group.",
    [DISCONNECTED]: "Not connected: trying again.",
};

function explain(error) {
    const text = EXPLAINED[error.code] || error.message || "Something went wrong.";
    if (error.code === "rate_limited" && error.retryAfter)
        return text.replace(/\.$/, "") + ": try again in " + Math.ceil(error.retryAfter / 1000) + " s.";
    return text;
}

const url = (location.protocol === "https:"? "wss://": "ws://") + location.host + "/";
const session = new Session(url);
const view = new View();
const shownKey = "groupchat.shown";
let bannerTimer = null;
let loadingOlder = false;
const exhausted = new Set();            //  rooms scrolled back to their start

//  ------------------------------------------------------------------------
//  Session events

const on = (type, handler) =>
    session.addEventListener(type, (event) => handler(event.detail));

on("login-needed", ({reason}) => {
    sessionStorage.removeItem(shownKey);
    exhausted.clear();
    view.showLogin(reason);
});

on("logged-in", ({user, rooms}) => {
    const first = $("chat-screen").hidden;
    view.showChat(user, rooms);
    if (first)
        reopen(rooms);
});

on("status", ({state, retryAt}) => {
    clearInterval(bannerTimer);
    if (state === "connected")
        view.banner(null);
    else
    if (state === "disconnected" && $("login-screen").hidden)
        countDown(retryAt);
    else
    if (state === "connecting" && session.token && $("chat-screen").hidden)
        view.screen("connecting");
    else
    if (state === "connecting" && !$("chat-screen").hidden)
        view.banner("Disconnected: reconnecting…");
});

//  A join that held fewer than a page of history showed the room's start
on("joined", ({room, whole}) => {
    if (whole)
        exhausted.add(room);
    view.joinedRoom(room);
    if (room === view.shown)
        view.earlier(!exhausted.has(room));
});
on("message", (message) => view.message(message, message.counted));
on("present", ({room, users}) => view.presentIn(room, users));
on("presence", ({room, user, event}) => view.presence(room, user, event));
on("typing", ({room, user}) => view.typing(room, user));
on("pending", (entry) => view.pending(entry, session.user));
on("said", (entry) => view.said(entry));
on("unsent", (entry) => view.unsent(entry, explain(entry.error)));
on("failed", ({error}) => view.notice(explain(error)));
on("left", ({room, error}) => {
    view.leftRoom(room);
    if (error)
        view.notice(room + ": " + explain(error));
});

//  Says typed while disconnected wait in the outbox; the banner says so
function countDown(retryAt) {
    const draw = () => {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        const waiting = session.outbox.length;
        view.banner("Disconnected: reconnecting in " + seconds + " s"
                    + (waiting? "; " + waiting + " unsent, sent once back": "") + ".");
    };
    draw();
    bannerTimer = setInterval(draw, 500);
}

//  After a reload the rooms of the tab are joined again, the one shown
//  last shown again
async function reopen(rooms) {
    const shown = sessionStorage.getItem(shownKey);
    if (shown && rooms.includes(shown))
        await enter(shown);
}

//  ------------------------------------------------------------------------
//  Rooms

async function enter(room) {
    if (!session.rooms.has(room) || !view.joined.has(room)) {
        try {
            if (!session.rooms.has(room))
                await session.join(room);
            view.joinedRoom(room);
        } catch (error) {
            view.notice(room + ": " + explain(error));
            return;
        }
    }
    view.show(room);
    view.earlier(!exhausted.has(room));
    sessionStorage.setItem(shownKey, room);
    closeRoomsList();
    $("input").focus();
}

async function leave() {
    const room = view.shown;
    try {
        await session.leave(room);
        sessionStorage.removeItem(shownKey);
    } catch (error) {
        view.notice(room + ": " + explain(error));
    }
}

function step(offset) {
    const rooms = view.rooms;
    if (rooms.length === 0)
        return;
    const at = rooms.indexOf(view.shown);
    const next = at < 0? 0: (at + offset + rooms.length) % rooms.length;
    enter(rooms[next]);
}

//  Scroll back: the page of messages older than the oldest shown
async function loadOlder() {
    const room = view.shown;
    if (!room || loadingOlder || exhausted.has(room))
        return;
    const oldest = view.oldestSeq(room);
    if (oldest === 1 || oldest === null && session.rooms.get(room) === 0) {
        exhausted.add(room);
        view.earlier(false);
        return;
    }
    loadingOlder = true;
    try {
        const fields = oldest === null? {}: {before: oldest};
        const messages = await session.history(room, fields.before, HISTORY_PAGE);
        view.older(room, messages);
        if (messages.length < HISTORY_PAGE) {
            exhausted.add(room);
            if (view.shown === room)
                view.earlier(false);
        }
    } catch (error) {
        view.notice(explain(error));
    } finally {
        loadingOlder = false;
    }
}

function closeRoomsList() {
    document.body.classList.remove("rooms-open");
    $("rooms-toggle").setAttribute("aria-expanded", "false");
}

function toggleRoomsList() {
    const open = document.body.classList.toggle("rooms-open");
    $("rooms-toggle").setAttribute("aria-expanded", String(open));
    if (open)
        ($("room-list").querySelector("[aria-current]") || $("room-list").querySelector("button"))?.focus();
}

//  ------------------------------------------------------------------------
//  Saying

function send() {
    const input = $("input");
    const text = input.value;
    const room = view.shown;
    if (!room)
        return;
    if (text.trim() === "") {
        view.notice(EXPLAINED.empty_text);
        return;
    }
    if (new TextEncoder().encode(text).length > TEXT_MAX_BYTES) {
        view.notice(EXPLAINED.too_long);    //  the text stays, to be cut
        return;
    }
    session.say(room, text);
    input.value = "";
    grow(input);
}

//  The input grows with its text up to a few lines, then scrolls
function grow(input) {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, INPUT_MAX_PX) + "px";
    input.style.overflowY = input.scrollHeight > INPUT_MAX_PX? "auto": "hidden";
}

//  ------------------------------------------------------------------------
//  The page's controls

$("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = $("login-user").value, password = $("login-password").value;
    $("login-submit").disabled = true;
    view.loginError("");
    try {
        await session.logInWithPassword(user, password);
        $("login-password").value = "";
    } catch (error) {
        view.loginError(error.code === DISCONNECTED?
                        "Cannot reach the server: try again in a moment.": explain(error));
        if (error.code === "bad_credentials") {
            $("login-password").value = "";
            $("login-password").focus();
        }
    } finally {
        $("login-submit").disabled = false;
    }
});

$("logout").addEventListener("click", () => session.logOut());
$("retry").addEventListener("click", () => session.retryNow());
$("notice-close").addEventListener("click", () => view.notice(""));
$("rooms-toggle").addEventListener("click", toggleRoomsList);
$("leave").addEventListener("click", leave);
$("earlier").addEventListener("click", loadOlder);

$("room-list").addEventListener("click", (event) => {
    const button = event.target.closest("button.room");
    if (button)
        enter(button.dataset.room);
});

$("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < SCROLL_BACK_PX)
        loadOlder();
});

$("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
    $("input").focus();
});

$("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
    }
});

$("input").addEventListener("input", () => {
    grow($("input"));
    if (view.shown && $("input").value !== "")
        session.typing(view.shown);
});

document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")
    &&  !$("chat-screen").hidden) {
        event.preventDefault();
        step(event.key === "ArrowUp"? -1: 1);
    }
    else
    if (event.key === "Escape")
        closeRoomsList();
});

session.start();
