// One WebSocket per tab: reconnects with capped, jittered backoff and tells listeners when it
// comes back so they can catch up over REST (events missed while offline are not replayed).
export class Socket {
  constructor({ onEvent, onState, onReconnect }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onReconnect = onReconnect;
    this.attempt = 0;
    this.pending = new Map();
    this.counter = 0;
    this.connected = false;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/ws/`);
    this.onState("connecting");
    this.ws.addEventListener("open", () => {
      const wasReconnect = this.everConnected;
      this.everConnected = true;
      this.connected = true;
      this.attempt = 0;
      this.onState("online");
      if (wasReconnect) this.onReconnect();
    });
    this.ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const waiter = message.request_id && this.pending.get(message.request_id);
      if (waiter) {
        this.pending.delete(message.request_id);
        message.type === "error" ? waiter.reject(message.error) : waiter.resolve(message);
        return;
      }
      this.onEvent(message);
    });
    this.ws.addEventListener("close", () => {
      this.connected = false;
      for (const waiter of this.pending.values()) waiter.reject({ code: "disconnected", message: "Connection lost; please retry." });
      this.pending.clear();
      this.onState("offline");
      const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    });
  }

  request(message) {
    if (!this.connected) return Promise.reject({ code: "disconnected", message: "Not connected yet; retrying…" });
    const request_id = `r${Date.now()}-${this.counter++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(request_id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, request_id }));
    });
  }

  close() {
    this.ws.close();
  }
}
