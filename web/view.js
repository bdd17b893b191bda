/*  view.js: what the browser client draws, and nothing of the protocol.

    Every text that came from the network (names, messages, reasons) goes
    into the page through textContent or as an attribute's value, never as
    HTML: a message "<img src=x onerror=alert(1)>" shows those characters.
    Each room keeps its own message list, swapped in when it is shown, so
    that switching rooms keeps each one's scroll back and pending says. */

const NEAR_BOTTOM_PX = 48;              //  closer than this: stay at the bottom
const TYPING_SHOWN_MS = 5000;

export const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className)
        node.className = className;
    if (text !== undefined)
        node.textContent = text;
    return node;
}

//  Today's messages show the time; older ones the day too
function when(ts) {
    const date = new Date(ts);
    const time = date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
    if (date.toDateString() === new Date().toDateString())
        return time;
    return date.toLocaleDateString([], {day: "numeric", month: "short"}) + " " + time;
}

function listNames(names) {
    if (names.length <= 2)
        return names.join(" and ");
    return names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
}

export class View {
    constructor() {
        this.shown = null;              //  the room on screen
        this.lists = new Map();         //  room -> its <ol> of messages
        this.unread = new Map();        //  room -> messages not seen
        this.present = new Map();       //  room -> Set of users present
        this.typists = new Map();       //  room -> Map user -> timer
        this.rooms = [];                //  the user's rooms, as listed
        this.joined = new Set();
    }

    //  --------------------------------------------------------------------
    //  Screens

    screen(name) {
        for (const id of ["login-screen", "connecting", "chat-screen"])
            $(id).hidden = id !== name;
        const chatting = name === "chat-screen";
        $("logout").hidden = !chatting;
        $("rooms-toggle").hidden = !chatting;
    }

    showLogin(reason) {
        this.reset();
        this.screen("login-screen");
        this.banner(null);
        $("me").textContent = "";
        this.loginError(reason || "");
        $("login-password").value = "";
        $("login-user").focus();
    }

    loginError(text) {
        $("login-error").textContent = text;
        $("login-error").hidden = !text;
    }

    showChat(user, rooms) {
        $("me").textContent = user;
        this.rooms = rooms;
        this.screen("chat-screen");
        this.drawRooms();
    }

    reset() {
        this.shown = null;
        document.body.classList.add("no-room");
        this.lists.clear();
        this.unread.clear();
        this.present.clear();
        this.joined.clear();
        for (const typists of this.typists.values())
            for (const timer of typists.values())
                clearTimeout(timer);
        this.typists.clear();
        $("message-list").replaceChildren();
        $("room-title").textContent = "Pick a room";
        $("present").textContent = "";
        $("typing").textContent = "";
        $("leave").hidden = true;
        $("earlier").hidden = true;
        this.enableInput(false);
    }

    //  While disconnected: says typed meanwhile wait, and go once back
    banner(text) {
        $("banner").hidden = text === null;
        $("banner-text").textContent = text || "";
    }

    notice(text) {
        $("notice-text").textContent = text;
        $("notice").hidden = !text;
    }

    //  --------------------------------------------------------------------
    //  The rooms list

    drawRooms() {
        const items = this.rooms.map((room) => {
            const button = element("button", "room");
            button.type = "button";
            button.dataset.room = room;
            button.append(element("span", "name", room));
            const count = this.unread.get(room) || 0;
            if (count > 0) {
                const badge = element("span", "unread", String(count));
                badge.setAttribute("aria-label", count + " unread");
                button.append(badge);
            }
            if (room === this.shown)
                button.setAttribute("aria-current", "true");
            if (this.joined.has(room))
                button.classList.add("joined");
            const item = element("li");
            item.append(button);
            return item;
        });
        $("room-list").replaceChildren(...items);
        if (this.rooms.length === 0)
            $("room-list").append(element("li", "empty", "You are in no group yet."));
    }

    roomButton(room) {
        return [...$("room-list").querySelectorAll("button.room")]
            .find((button) => button.dataset.room === room);
    }

    //  --------------------------------------------------------------------
    //  One room on screen

    list(room) {
        let list = this.lists.get(room);
        if (!list) {
            list = element("ol");
            list.id = "message-list";
            this.lists.set(room, list);
        }
        return list;
    }

    joinedRoom(room) {
        this.joined.add(room);
        this.drawRooms();
    }

    leftRoom(room) {
        this.joined.delete(room);
        this.lists.delete(room);
        this.unread.delete(room);
        this.present.delete(room);
        if (this.shown === room) {
            this.shown = null;
            document.body.classList.add("no-room");
            $("message-list").replaceWith(this.emptyList());
            $("room-title").textContent = "Pick a room";
            $("present").textContent = "";
            $("leave").hidden = true;
            $("earlier").hidden = true;
            this.enableInput(false);
        }
        this.drawRooms();
    }

    emptyList() {
        const list = element("ol");
        list.id = "message-list";
        return list;
    }

    show(room) {
        this.shown = room;
        document.body.classList.remove("no-room");
        this.unread.delete(room);
        $("message-list").replaceWith(this.list(room));
        $("room-title").textContent = room;
        $("leave").hidden = false;
        this.drawPresent();
        this.drawTyping();
        this.drawRooms();
        this.enableInput(true);
        this.scrollToBottom();
    }

    enableInput(on) {
        $("input").disabled = !on;
        $("send").disabled = !on;
    }

    earlier(shown) {
        $("earlier").hidden = !shown;
    }

    //  --------------------------------------------------------------------
    //  Messages, in seq order, pending says below them

    messageItem(message) {
        const item = element("li", "message");
        item.dataset.seq = message.seq;
        item.dataset.from = message.from;
        const head = element("div", "head");
        head.append(element("span", "from", message.from));
        const time = element("time", "time", when(message.ts));
        time.dateTime = new Date(message.ts).toISOString();
        head.append(time);
        item.append(head, element("div", "text", message.text));
        return item;
    }

    //  A message once: one with a seq shown already is not drawn again,
    //  and the pending say it answers, when there is one, becomes it
    message(message, counted) {
        const list = this.list(message.room);
        const keep = this.stuck();
        for (const item of list.querySelectorAll(".pending"))
            if ((message.nonce && item.dataset.nonce === message.nonce)
            ||  item.dataset.acked === String(message.seq))
                item.remove();
        const item = this.messageItem(message);
        if (!this.seqItem(list, message.seq))
            this.place(list, item);
        this.stopTyping(message.room, message.from);
        if (message.room === this.shown) {
            if (keep)
                this.scrollToBottom();
        }
        else
        if (counted) {
            this.unread.set(message.room, (this.unread.get(message.room) || 0) + 1);
            this.drawRooms();
        }
    }

    seqItem(list, seq) {
        return [...list.children].find((item) => item.dataset.seq === String(seq));
    }

    pendingItem(list, nonce) {
        return [...list.children].find((item) => item.dataset.nonce === nonce);
    }

    //  Before the first item whose seq is higher, else before the pending
    place(list, item) {
        const seq = Number(item.dataset.seq);
        const after = [...list.children].find((other) =>
            other.classList.contains("pending")
            || (other.dataset.seq && Number(other.dataset.seq) > seq));
        list.insertBefore(item, after || null);
    }

    //  Older messages above the others, the view kept where it was
    older(room, messages) {
        const list = this.list(room);
        const box = $("messages");
        const height = box.scrollHeight;
        for (const message of messages)
            if (!this.seqItem(list, message.seq))
                this.place(list, this.messageItem(message));
        if (room === this.shown)
            box.scrollTop += box.scrollHeight - height;
    }

    oldestSeq(room) {
        const first = [...this.list(room).children].find((item) => item.dataset.seq);
        return first? Number(first.dataset.seq): null;
    }

    pending(entry, user) {
        const list = this.list(entry.room);
        const item = element("li", "message pending");
        item.dataset.nonce = entry.nonce;
        const head = element("div", "head");
        head.append(element("span", "from", user || ""), element("span", "state", "sending…"));
        item.append(head, element("div", "text", entry.text));
        list.append(item);
        if (entry.room === this.shown)
            this.scrollToBottom();
    }

    //  The ok came before the push: the say is stored; it waits for its
    //  message, in order, to take its place
    said(entry) {
        const list = this.list(entry.room);
        const item = this.pendingItem(list, entry.nonce);
        if (!item)
            return;
        if (this.seqItem(list, entry.seq)) {
            item.remove();      //  its message came already, before a reconnect
            return;
        }
        item.dataset.acked = entry.seq;
        item.querySelector(".state").textContent = "sent";
    }

    unsent(entry, why) {
        const item = this.pendingItem(this.list(entry.room), entry.nonce);
        if (!item)
            return;
        item.classList.add("failed");
        item.querySelector(".state").textContent = "not sent: " + why;
        delete item.dataset.nonce;
    }

    //  A line in the room's flow that is not a message: who came and went
    line(room, text) {
        const list = this.list(room);
        const keep = this.stuck();
        const item = element("li", "event", text);
        const firstPending = list.querySelector(".pending");
        list.insertBefore(item, firstPending);
        if (room === this.shown && keep)
            this.scrollToBottom();
    }

    stuck() {
        const box = $("messages");
        return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    }

    scrollToBottom() {
        const box = $("messages");
        box.scrollTop = box.scrollHeight;
    }

    //  --------------------------------------------------------------------
    //  Presence and typing

    presentIn(room, users) {
        this.present.set(room, new Set(users));
        if (room === this.shown)
            this.drawPresent();
    }

    presence(room, user, event) {
        const users = this.present.get(room) || new Set();
        if (event === "join")
            users.add(user);
        else
            users.delete(user);
        this.present.set(room, users);
        this.line(room, user + (event === "join"? " joined": " left"));
        if (event === "leave")
            this.stopTyping(room, user);
        if (room === this.shown)
            this.drawPresent();
    }

    drawPresent() {
        const users = [...(this.present.get(this.shown) || [])].sort();
        $("present").textContent = users.length? "Here: " + users.join(", "): "";
    }

    typing(room, user) {
        const typists = this.typists.get(room) || new Map();
        clearTimeout(typists.get(user));
        typists.set(user, setTimeout(() => this.stopTyping(room, user), TYPING_SHOWN_MS));
        this.typists.set(room, typists);
        if (room === this.shown)
            this.drawTyping();
    }

    stopTyping(room, user) {
        const typists = this.typists.get(room);
        if (!typists || !typists.has(user))
            return;
        clearTimeout(typists.get(user));
        typists.delete(user);
        if (room === this.shown)
            this.drawTyping();
    }

    drawTyping() {
        const names = [...(this.typists.get(this.shown)?.keys() || [])].sort();
        $("typing").textContent = names.length === 0? "":
            listNames(names) + (names.length === 1? " is typing…": " are typing…");
    }
}
