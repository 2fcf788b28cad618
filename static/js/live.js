// What keeps every open tab on what the server has: the socket (its events, reconnects and
// sign-out), the other tabs' "chat changed" messages and the page coming back into view. A tab
// re-reads the open chat when the socket reports an image it does not show (another tab's
// request), when another tab changed the chat, when it comes back and after a reconnect. It
// owns the socket and the set of images heard about that this tab does not show.
import { analysisDelta } from "./analysis.js";
import { currentChatId, loadChatsSoon } from "./chat-list.js";
import { hasCard, refreshProcessing, updateTask } from "./embeds.js";
import { syncSoon } from "./messages.js";
import { Socket } from "./socket.js";
import { onChatChanged } from "./tabs.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const connection = document.querySelector("#app [data-testid=connection]");
const unknownEmbeds = new Map(); // embedId -> "seen" | "final": events for images this tab does not show
let leaving = false;

function onEmbedUpdate(payload) {
  updateTask(payload);
  if (payload.status === "completed") loadChatsSoon(); // the chat list shows the newest image
  if (payload.embed_id && !hasCard(payload.embed_id)) {
    // Probably made in another tab (or by this one, ahead of its reply): re-read the chat
    // when it first appears and once more when it is final.
    const seen = unknownEmbeds.get(payload.embed_id);
    const final = TERMINAL.has(payload.status);
    if (!seen || (final && seen !== "final")) {
      unknownEmbeds.set(payload.embed_id, final ? "final" : "seen");
      syncSoon();
      loadChatsSoon();
    }
  }
}

export const socket = new Socket({
  onEvent: (message) => {
    if (message.type === "embed_update") onEmbedUpdate(message.payload || {});
    else if (message.type === "analysis_delta") analysisDelta(message.payload);
    else if (message.type === "message_created") {
      loadChatsSoon();
      if (message.payload?.chat_id === currentChatId()) syncSoon();
    }
  },
  onState: (value) => {
    connection.dataset.state = value;
    connection.textContent = value === "online" ? "" : value === "offline" ? "Reconnecting…" : "Connecting…";
  },
  onReconnect: () => {
    // Events sent while we were away are gone: catch up over REST.
    refreshProcessing();
    syncSoon();
    loadChatsSoon();
  },
  onSignedOut: () => {
    // Logged out elsewhere (or here, with the page already on its way to the login form).
    setTimeout(() => {
      if (!leaving) location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`);
    }, 300);
  },
});
window.addEventListener("beforeunload", () => { leaving = true; });
window.addEventListener("pagehide", () => { leaving = true; });

onChatChanged((chatId) => {
  loadChatsSoon();
  if (chatId === currentChatId()) syncSoon();
});
document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  syncSoon();
  loadChatsSoon();
  refreshProcessing();
});
