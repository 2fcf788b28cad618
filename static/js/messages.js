// The open chat's messages: loading and re-reading them (keyed by id, so a re-read never
// duplicates anything), local bubbles for requests on their way, staying at the newest message
// while cards grow, and the chat's images as one Tab stop. It owns the list element, the
// scroll pin, the roving tab stop and the re-read queue.
import { api } from "./api.js";
import { currentChatId, loadChatsSoon, setChat } from "./chat-list.js";
import { imageEmbed } from "./embeds.js";
import { showError } from "./status.js";

const list = document.querySelector("#app [data-testid=messages]");
let emptyState = () => document.createElement("li"); // the empty chat's content (configureMessages)
let loading = null; // the open chat's first read
let pinned = true;

/** ``emptyState()`` makes what an empty chat shows. */
export function configureMessages(options) {
  emptyState = options.emptyState;
}

// --- scrolling: stay at the newest message while content grows --------------------------------
// Cards get their height only once their content has loaded, so "scroll to the new image" is
// a state (pinned to the bottom) kept while anything in the list changes size, not a one-off.
const growth = new ResizeObserver(() => { if (pinned) toBottom(); });
growth.observe(list);
list.addEventListener("scroll", () => {
  pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}, { passive: true });
function toBottom() {
  list.scrollTop = list.scrollHeight;
}
export function follow() {
  pinned = true;
  toBottom();
}

// --- keyboard: the chat's images are one tab stop ---------------------------------------------
// Tab reaches the images once (the last one looked at, or the newest); arrow keys, Home and End
// move between them. The safety note is shown under the newest AI image only, so a long chat
// is not a long walk to the message box.
let rovingId = null;
function tidyList() {
  const frames = [...list.querySelectorAll(".message [data-testid=open-image]")];
  const current = frames.find((f) => f.closest("[data-embed-id]").dataset.embedId === rovingId) || frames.at(-1);
  for (const frame of frames) {
    frame.tabIndex = frame === current ? 0 : -1;
    // A card's version stepper is reachable with its image, not as stops of its own in every card.
    for (const button of frame.closest("[data-embed-id]").querySelectorAll(".versions button")) {
      button.tabIndex = frame.tabIndex;
    }
  }
  const notes = [...list.querySelectorAll(".message [data-testid=safety-note]")];
  notes.forEach((note, index) => { note.hidden = index !== notes.length - 1; });
}
let tidyQueued = false;
new MutationObserver(() => {
  if (tidyQueued) return;
  tidyQueued = true;
  requestAnimationFrame(() => { tidyQueued = false; tidyList(); });
}).observe(list, { childList: true, subtree: true });
list.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-testid=open-image]")) {
    rovingId = event.target.closest("[data-embed-id]").dataset.embedId;
    tidyList();
  }
});
list.addEventListener("keydown", (event) => {
  if (!event.target.matches("[data-testid=open-image]")) return;
  const frames = [...list.querySelectorAll(".message [data-testid=open-image]")];
  const index = frames.indexOf(event.target);
  const to = { ArrowUp: index - 1, ArrowLeft: index - 1, ArrowDown: index + 1, ArrowRight: index + 1,
               Home: 0, End: frames.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const next = frames[Math.max(0, Math.min(frames.length - 1, to))];
  next?.focus();
  next?.scrollIntoView({ block: "nearest" });
});

/** The chat's finished images in order, for the viewer's previous/next. */
export function imageIds() {
  return [...list.querySelectorAll("[data-testid=image-embed-preview][data-status=finished]")]
    .filter((node) => !node.classList.contains("is-results") && !node.classList.contains("is-analysis"))
    .map((node) => node.dataset.embedId)
    .filter((id, index, all) => all.indexOf(id) === index);
}

// --- opening a chat ------------------------------------------------------------------------------
let selectToken = 0;
/** Show chat ``chatId`` (null: a new chat), read from the server. */
export function selectChat(chatId) {
  const token = ++selectToken;
  setChat(chatId);
  list.replaceChildren();
  delete list.dataset.loaded;
  showError("");
  pinned = true;
  loading = (async () => {
    if (chatId) {
      let messages;
      try {
        messages = await api(`/v1/chats/${chatId}/messages`);
      } catch (error) {
        if (token !== selectToken) return;
        if (error.status === 404) { loadChatsSoon(); return selectChat(null); }
        showError(`This chat could not be loaded: ${error.message}`);
        messages = [];
      }
      if (token !== selectToken) return;
      for (const message of messages) insertMessage(message);
    }
    if (token !== selectToken) return;
    if (!list.querySelector(".message")) list.append(emptyState());
    follow();
    list.dataset.loaded = "true";
  })();
  return loading;
}

/** Reload the open chat from the server (after something in it was deleted). */
export function reloadChat() {
  const keep = pinned;
  return selectChat(currentChatId()).then(() => { if (!keep) pinned = false; });
}

/** The server made the chat this list shows (a first request's exchange): it is read in full. */
export function adoptChat(chatId) {
  setChat(chatId);
  list.dataset.loaded = "true";
}

export function restoreEmptyState() {
  if (!list.querySelector(".message, .empty")) list.append(emptyState());
}

/** Show the empty chat's content again (it names the models, which load later). */
export function refreshEmptyState() {
  list.querySelector(".empty")?.replaceWith(emptyState());
}

// --- messages ------------------------------------------------------------------------------------
function messageNode(message) {
  const item = document.createElement("li");
  item.className = `message ${message.role}`;
  item.dataset.messageId = message.message_id;
  item.dataset.createdAt = message.created_at;
  if (message.text) {
    const text = document.createElement("p");
    text.textContent = message.text;
    item.append(text);
  }
  if (!message.text && !message.embeds.length) {
    const gone = document.createElement("p");
    gone.className = "gone";
    gone.textContent = "Image deleted";
    item.append(gone);
  }
  if (message.embeds.length) {
    const embeds = document.createElement("div");
    embeds.className = "message-embeds";
    // An answer with several images (a request's variants) is a row of tiles, each its own live
    // card, filling in as each finishes; the row wraps on a narrow screen.
    if (message.role === "assistant" && message.embeds.length > 1) {
      embeds.classList.add("variant-tiles");
      embeds.dataset.testid = "variant-tiles";
      embeds.setAttribute("role", "group");
      embeds.setAttribute("aria-label", `${message.embeds.length} variants`);
    }
    for (const embed of message.embeds) embeds.append(imageEmbed(embed.embed_id));
    item.append(embeds);
  }
  return item;
}

/** Show a message from the server once, in the server's order (local pending bubbles stay last). */
export function insertMessage(message) {
  if (list.querySelector(`[data-message-id="${CSS.escape(message.message_id)}"]`)) return null;
  list.querySelector(".empty")?.remove();
  const item = messageNode(message);
  const at = Date.parse(message.created_at);
  const later = [...list.querySelectorAll(".message[data-created-at]")]
    .find((node) => Date.parse(node.dataset.createdAt) > at);
  list.insertBefore(item, later || list.querySelector(".message.pending"));
  growth.observe(item);
  return item;
}

/** A local bubble for a request on its way; replaced by the server's message once it exists. */
export function appendPending(text) {
  list.querySelector(".empty")?.remove();
  const item = document.createElement("li");
  item.className = "message user pending";
  const body = document.createElement("p");
  body.textContent = text;
  item.append(body);
  list.append(item);
  growth.observe(item);
  follow();
  return item;
}

let syncChain = Promise.resolve();
/** Re-read the open chat's messages and add the ones not shown yet. Calls run one at a time. */
export function syncMessages() {
  const read = async () => {
    await loading?.catch?.(() => {});
    const chatId = currentChatId();
    if (!chatId || list.dataset.loaded !== "true") return [];
    const messages = await api(`/v1/chats/${chatId}/messages`);
    if (chatId !== currentChatId()) return [];
    for (const message of messages) insertMessage(message);
    return messages;
  };
  const next = syncChain.then(read, read);
  syncChain = next.catch(() => {});
  return next;
}

let syncTimer;
export function syncSoon() {
  clearTimeout(syncTimer);
  syncTimer = setTimeout(() => syncMessages().catch(() => {}), 150);
}
