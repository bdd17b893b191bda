/*  session.js: the browser client's link to a gateway, protocol v1.1.

    One Session per tab. It keeps what must outlive a connection: the
    token (in sessionStorage, so a reload logs in again without asking),
    the rooms joined and the last seq seen in each, and the outbox of
    says not yet acknowledged. When the connection drops it reconnects
    with backoff, logs in with the token, joins every room again with
    `since` its last seq, and sends the outbox again with the same
    nonces: the broker stores each say once, and a message whose seq is
    not above the last one seen is dropped, so each shows exactly once.
    It knows nothing of the page: it dispatches events that view.js
    draws. */

const STORE = "groupchat.";             //  sessionStorage keys start so
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const RETRY_UNAVAILABLE_MS = 1000;      //  a say or join the broker could not take
const TYPING_EVERY_MS = 1000;           //  the gateways forward one a second anyway
const LOGOUT_WAIT_MS = 3000;
const JOIN_HISTORY = 10;                //  a join's history holds at most this many

//  The client's own failures, beside the protocol's codes
export const DISCONNECTED = "disconnected";

function stored(name, fallback) {
    try {
        const text = sessionStorage.getItem(STORE + name);
        return text === null? fallback: JSON.parse(text);
    } catch (error) {
        return fallback;        //  storage off or corrupt: start afresh
    }
}

function store(name, value) {
    try {
        if (value === null || value === undefined)
            sessionStorage.removeItem(STORE + name);
        else
            sessionStorage.setItem(STORE + name, JSON.stringify(value));
    } catch (error) {
        //  Private modes may refuse storage: the tab works, a reload asks again
    }
}

//  A prefix no other tab of this user shares, kept for the tab so that a
//  reload resends its outbox with the nonces it had
function tabNonce() {
    let prefix = stored("nonce", null);
    if (!prefix) {
        const bytes = crypto.getRandomValues(new Uint8Array(9));
        prefix = btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x");
        store("nonce", prefix);
    }
    return prefix;
}

export class RequestError extends Error {
    constructor(reply) {
        super(reply.message || reply.code);
        this.code = reply.code;
        this.retryAfter = reply.retry_after;
    }
}

export class Session extends EventTarget {
    constructor(url) {
        super();
        this.url = url;
        this.socket = null;
        this.connected = false;         //  open and logged in
        this.user = stored("user", null);
        this.token = stored("token", null);
        //  Room name -> the last seq seen, 0 until this page saw one: a
        //  reload joins again plainly, for the last 10 messages to show
        this.rooms = new Map(stored("rooms", []).map((room) => [room, 0]));
        this.outbox = stored("outbox", []);         //  {room, text, nonce}
        this.nonces = tabNonce();
        this.nextNonce = stored("next", 1);
        this.nextId = 1;
        this.waiting = new Map();       //  request id -> {resolve, reject}
        this.sending = null;            //  the outbox entry in flight
        this.acked = new Set();         //  "room\nseq" of says whose ok came first
        this.attempt = 0;
        this.retryTimer = null;
        this.sayTimer = null;
        this.typedAt = new Map();       //  room -> when typing was last sent
        this.ended = false;             //  the gateway closed the session
        this.revoking = null;           //  a logout made offline, being sent
    }

    emit(type, detail) {
        this.dispatchEvent(new CustomEvent(type, {detail}));
    }

    //  --------------------------------------------------------------------
    //  The connection

    start() {
        for (const entry of this.outbox)
            this.emit("pending", entry);
        if (this.token)
            this.connect();
        else
            this.emit("login-needed", {});
    }

    connect() {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        if (this.socket)
            return;
        this.emit("status", {state: "connecting"});
        const socket = new WebSocket(this.url, "groupchat.v1");
        this.socket = socket;
        socket.onopen = () => this.opened();
        socket.onmessage = (event) => this.received(event.data);
        socket.onclose = (event) => this.closed(socket, event);
    }

    async opened() {
        this.attempt = 0;
        //  A logout made offline first: a password login waits for it,
        //  or the logout would end that login instead
        const pendingLogout = stored("logout", null);
        this.revoking = pendingLogout? this.revoke(pendingLogout, false): null;
        await this.revoking;
        if (this.token)
            await this.logIn({token: this.token}).catch((error) => this.loginFailed(error));
    }

    closed(socket, event) {
        if (socket !== this.socket)
            return;
        this.socket = null;
        this.connected = false;
        for (const pending of this.waiting.values())
            pending.reject(new RequestError({code: DISCONNECTED}));
        this.waiting.clear();
        this.sending = null;
        clearTimeout(this.sayTimer);
        if (event.code === 4001 && !this.ended) {
            this.forget();      //  ended without its "closed" push
            this.emit("login-needed", {reason: "Your session has ended: " + event.reason + "."});
        }
        if (this.ended || event.code === 4001)
            return;             //  a token would be refused
        if (!this.token)
            return;             //  logged out, or never in: nothing to resume
        this.retryLater();
    }

    retryLater() {
        const step = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
        const wait = Math.round(step * (0.8 + Math.random() * 0.4));
        this.attempt++;
        this.emit("status", {state: "disconnected", retryAt: Date.now() + wait});
        this.retryTimer = setTimeout(() => this.connect(), wait);
    }

    retryNow() {
        if (!this.socket && this.token)
            this.connect();
    }

    send(frame) {
        if (this.socket && this.socket.readyState === WebSocket.OPEN)
            this.socket.send(JSON.stringify(frame));
    }

    request(op, fields) {
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
                reject(new RequestError({code: DISCONNECTED}));
                return;
            }
            this.waiting.set(id, {resolve, reject});
            this.send({op, id, ...fields});
        });
    }

    received(data) {
        let frame;
        try {
            frame = JSON.parse(data);
        } catch (error) {
            return;             //  not ours to fix: the gateway sends JSON
        }
        if (frame === null || typeof frame !== "object")
            return;
        if (typeof frame.id === "number" && this.waiting.has(frame.id)) {
            const pending = this.waiting.get(frame.id);
            this.waiting.delete(frame.id);
            if (frame.op === "ok")
                pending.resolve(frame);
            else
                pending.reject(new RequestError(frame));
            return;
        }
        const handler = PUSHES[frame.op];
        if (handler)
            handler.call(this, frame);
    }

    //  --------------------------------------------------------------------
    //  Logging in and out

    async logIn(credentials) {
        const reply = await this.request("login", credentials);
        this.user = reply.user;
        this.token = reply.token;
        this.ended = false;
        store("user", this.user);
        store("token", this.token);
        const list = await this.request("rooms", {});
        this.connected = true;
        this.emit("logged-in", {user: this.user, rooms: list.rooms.map((room) => room.name)});
        this.emit("status", {state: "connected"});
        await Promise.all([...this.rooms.keys()].map((room) => this.rejoin(room)));
        this.sendOutbox();
    }

    //  A token refused means the session is over; anything else is a
    //  connection problem the reconnect handles
    loginFailed(error) {
        if (error.code === "bad_credentials") {
            this.forget();
            this.emit("login-needed", {reason: "Your session has ended: please log in again."});
        }
        else
        if (error.code !== DISCONNECTED)
            this.emit("failed", {op: "login", error});
    }

    //  The login form's password login, on a connection opened for it
    async logInWithPassword(user, password) {
        if (!this.socket)
            this.connect();
        await this.whenOpen();
        await this.revoking;
        this.rooms.clear();
        this.outbox = [];
        this.saveRooms();
        this.saveOutbox();
        await this.logIn({user, password});
    }

    whenOpen() {
        return new Promise((resolve, reject) => {
            const socket = this.socket;
            if (socket.readyState === WebSocket.OPEN)
                return resolve();
            socket.addEventListener("open", () => resolve(), {once: true});
            socket.addEventListener("close", () =>
                reject(new RequestError({code: DISCONNECTED})), {once: true});
        });
    }

    //  Revokes the token; offline, the revocation waits in storage for the
    //  next connection, so that a token logged out of never works again
    async logOut() {
        const token = this.token, online = this.connected;
        this.forget();
        store("logout", token);
        if (this.socket && this.socket.readyState === WebSocket.OPEN)
            await this.revoke(token, online);
        this.socket?.close();
        this.emit("login-needed", {reason: "You have logged out."});
    }

    async revoke(token, loggedIn) {
        const timeout = new Promise((resolve) => setTimeout(resolve, LOGOUT_WAIT_MS));
        const done = (async () => {
            try {
                if (!loggedIn)
                    await this.request("login", {token});
                await this.request("logout", {});
                store("logout", null);
            } catch (error) {
                if (error.code === "bad_credentials")
                    store("logout", null);      //  already dead
            }
        })();
        await Promise.race([done, timeout]);
    }

    forget() {
        this.token = null;
        this.user = null;
        this.connected = false;
        this.rooms.clear();
        this.outbox = [];
        clearTimeout(this.retryTimer);
        for (const name of ["token", "user", "rooms", "outbox"])
            store(name, null);
    }

    //  --------------------------------------------------------------------
    //  Rooms

    async join(room) {
        const reply = await this.request("join", {room});
        if (!this.rooms.has(room))
            this.rooms.set(room, 0);
        this.emit("joined", {room, whole: reply.history.length < JOIN_HISTORY});
        this.deliver(room, reply.history, false);
        this.saveRooms();
        await this.askWho(room);
    }

    //  After a reconnect: what was missed, from the last seq seen on
    async rejoin(room) {
        const since = this.rooms.get(room);
        try {
            const reply = await this.request("join", since > 0? {room, since}: {room});
            this.emit("joined", {room, whole: since === 0 && reply.history.length < JOIN_HISTORY});
            this.deliver(room, reply.history, since > 0);
            await this.askWho(room);
        } catch (error) {
            if (error.code === "unavailable")
                setTimeout(() => this.connected && this.rejoin(room), RETRY_UNAVAILABLE_MS);
            else
            if (error.code !== DISCONNECTED)
                this.dropRoom(room, error);
        }
    }

    async askWho(room) {
        const reply = await this.request("who", {room});
        this.emit("present", {room, users: reply.present});
    }

    async leave(room) {
        await this.request("leave", {room});
        this.dropRoom(room, null);
    }

    dropRoom(room, error) {
        this.rooms.delete(room);
        this.saveRooms();
        this.emit("left", {room, error});
    }

    async history(room, before, limit) {
        const reply = await this.request("history", {room, before, limit});
        return reply.history;
    }

    //  Messages in seq order; a seq not above the last seen is one shown
    //  already (a push that crossed a rejoin's `since`). `news`: they
    //  count as unread (pushed, or missed while disconnected)
    deliver(room, messages, news) {
        let last = this.rooms.get(room) || 0;
        for (const message of messages) {
            if (message.seq <= last)
                continue;
            last = message.seq;
            this.emit("message", {...message, nonce: this.sentAs(message),
                                  counted: news && message.from !== this.user});
        }
        this.rooms.set(room, last);
        this.saveRooms();
    }

    saveRooms() {
        store("rooms", [...this.rooms.keys()]);
    }

    //  --------------------------------------------------------------------
    //  Saying: one say in flight at a time, so that they are stored in the
    //  order typed even when one must be sent again

    say(room, text) {
        const entry = {room, text, nonce: this.nonces + "-" + this.nextNonce++};
        store("next", this.nextNonce);
        this.outbox.push(entry);
        this.saveOutbox();
        this.emit("pending", entry);
        this.sendOutbox();
        return entry;
    }

    sendOutbox() {
        if (!this.connected || this.sending || this.outbox.length === 0)
            return;
        const entry = this.outbox[0];
        this.sending = entry;
        this.request("say", {room: entry.room, text: entry.text, nonce: entry.nonce})
            .then((reply) => this.said(entry, reply.seq))
            .catch((error) => this.sayFailed(entry, error));
    }

    said(entry, seq) {
        this.outbox.shift();
        this.saveOutbox();
        this.sending = null;
        this.acked.add(entry.room + "\n" + seq);
        this.emit("said", {...entry, seq});
        this.sendOutbox();
    }

    //  Refused for now: the same say again later, with its nonce. Refused
    //  for good: dropped, and the person told why
    sayFailed(entry, error) {
        this.sending = null;
        if (error.code === DISCONNECTED)
            return;             //  the reconnect sends it again
        if (error.code === "unavailable" || error.code === "rate_limited") {
            const wait = error.retryAfter || RETRY_UNAVAILABLE_MS;
            this.sayTimer = setTimeout(() => this.sendOutbox(), wait);
            return;
        }
        this.outbox.shift();
        this.saveOutbox();
        this.emit("unsent", {...entry, error});
        this.sendOutbox();
    }

    //  The nonce of the say in flight when this is its message, pushed
    //  before its ok came: the page then shows it once, not pending beside it
    sentAs(message) {
        const entry = this.sending;
        if (this.acked.delete(message.room + "\n" + message.seq))
            return undefined;   //  its ok came first: the page knows its seq
        if (entry && message.from === this.user && message.room === entry.room
        &&  message.text === entry.text)
            return entry.nonce;
        return undefined;
    }

    saveOutbox() {
        store("outbox", this.outbox);
    }

    typing(room) {
        const now = Date.now();
        if (!this.connected || now - (this.typedAt.get(room) || 0) < TYPING_EVERY_MS)
            return;
        this.typedAt.set(room, now);
        this.send({op: "typing", room});
    }
}

//  Pushed events, by op
const PUSHES = {
    message(frame) {
        if (this.rooms.has(frame.room))
            this.deliver(frame.room, [frame], true);
    },
    presence(frame) {
        this.emit("presence", frame);
    },
    typing(frame) {
        this.emit("typing", frame);
    },
    left(frame) {
        this.dropRoom(frame.room, {code: "left", message: frame.reason});
    },
    closed(frame) {
        this.ended = true;
        this.forget();
        this.emit("login-needed", {reason: "Your session has ended: " + frame.reason + "."});
    },
};
