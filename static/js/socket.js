// One WebSocket per tab: reconnects with capped, jittered backoff and tells listeners when it
// comes back so they can catch up over REST (events missed while offline are not replayed).
// A heartbeat notices a connection that died without a close frame; requests time out rather
// than wait forever for a reply that will never come.
const REQUEST_TIMEOUT_MS = 20000;
const HEARTBEAT_MS = 25000;
const PONG_TIMEOUT_MS = 10000;

export class Socket {
  constructor({ onEvent, onState, onReconnect, onSignedOut = () => {} }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onReconnect = onReconnect;
    this.onSignedOut = onSignedOut;
    this.attempt = 0;
    this.pending = new Map();
    this.counter = 0;
    this.connected = false;
    this.connect();
    setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    // Back from sleep or a network change: check the line at once instead of at the next beat.
    window.addEventListener("online", () => this.heartbeat());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.heartbeat(); });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/`);
    this.ws = ws;
    this.onState("connecting");
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      const wasReconnect = this.everConnected;
      this.everConnected = true;
      this.connected = true;
      this.attempt = 0;
      this.onState("online");
      if (wasReconnect) this.onReconnect();
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      const waiter = message.request_id && this.pending.get(message.request_id);
      if (waiter) {
        this.pending.delete(message.request_id);
        clearTimeout(waiter.timer);
        message.type === "error" ? waiter.reject(message.error) : waiter.resolve(message);
        return;
      }
      this.onEvent(message);
    });
    ws.addEventListener("close", (event) => {
      // 4401: the session ended (logged out in another tab); reconnecting cannot help.
      const signedOut = event.code === 4401 && ws === this.ws;
      this.lost(ws, { reconnect: !signedOut });
      if (signedOut) this.onSignedOut();
    });
  }

  lost(ws, { reconnect = true } = {}) {
    if (ws !== this.ws) return; // already handled (a heartbeat gave up on it first)
    this.ws = null;
    this.connected = false;
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject({ code: "disconnected", message: "Connection lost; please retry." });
    }
    this.pending.clear();
    this.onState("offline");
    if (!reconnect) return;
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    setTimeout(() => this.connect(), delay);
  }

  request(message, { timeout = REQUEST_TIMEOUT_MS } = {}) {
    if (!this.connected) {
      return Promise.reject({ code: "offline", message: "Not connected right now; reconnecting… please try again in a moment." });
    }
    const request_id = `r${Date.now()}-${this.counter++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(request_id);
        reject({ code: "timeout", message: "No answer from the server; please retry." });
      }, timeout);
      this.pending.set(request_id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...message, request_id }));
    });
  }

  heartbeat() {
    if (!this.connected || this.pinging) return;
    this.pinging = true;
    const ws = this.ws;
    this.request({ type: "ping" }, { timeout: PONG_TIMEOUT_MS })
      .catch((error) => {
        // No pong: the line is dead even if no close event came. Reconnect (and catch up).
        if (error?.code === "timeout" && ws === this.ws) {
          ws.close();
          this.lost(ws);
        }
      })
      .finally(() => { this.pinging = false; });
  }

  close() {
    this.ws?.close();
  }
}
