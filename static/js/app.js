// The chat app: chats, messages, the composer and its skills, wired to REST and the socket.
//
// Every open tab of a user converges on what the server has: a tab re-reads the open chat's
// messages over REST when the socket reports an image it does not show (another tab's request),
// when another tab of this browser says it changed the chat (BroadcastChannel), when it comes
// back into view and after a reconnect. Messages are keyed by id, so re-reading never
// duplicates anything.
import { api, fileUrl } from "./api.js";
import { analysisDelta } from "./analysis.js";
import { configureEmbeds, hasCard, imageEmbed, refreshProcessing, updateTask } from "./embeds.js";
import { configureViewer, openViewer } from "./fullscreen.js";
import { Socket } from "./socket.js";
import { privateChosen, uploadPrivate } from "./private-upload.js";

const app = document.getElementById("app");
const list = app.querySelector("[data-testid=messages]");
const chatList = app.querySelector("[data-testid=chat-list]");
const sidebar = app.querySelector("[data-testid=sidebar]");
const backdrop = app.querySelector("[data-testid=drawer-backdrop]");
const menuButton = document.querySelector("[data-testid=chat-menu]");
const chatTitle = app.querySelector("[data-testid=chat-title]");
const composer = app.querySelector("[data-testid=composer]");
const input = composer.querySelector("[data-testid=composer-input]");
const attachInput = composer.querySelector("[data-testid=attach-input]");
const attachmentsBox = composer.querySelector("[data-testid=attachments]");
const aspectSelect = composer.querySelector("[data-testid=aspect-ratio]");
const modelSelect = composer.querySelector("[data-testid=model-select]");
const errorBox = composer.querySelector("[data-testid=composer-error]");
const noteBox = composer.querySelector("[data-testid=composer-note]");
const connection = app.querySelector("[data-testid=connection]");
const reportDialog = document.querySelector("[data-testid=report-dialog]");
const askDialog = document.querySelector("[data-testid=ask-dialog]");
const chatActions = app.querySelector("[data-testid=chat-actions]");

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const REPORT_REASONS = { artifacts: "artifacts", wrong_content: "not what I asked for", offensive: "offensive",
                         other: "something else" };
const state = { chatId: app.dataset.chatId || null, attachments: [], chats: [], loading: null };
const regions = new Map(); // annotated attachment's embed id -> {embedId: the image drawn on, region}

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

let noteTimer;
function showNote(message, { seconds = 12 } = {}) {
  clearTimeout(noteTimer);
  noteBox.textContent = message || "";
  noteBox.hidden = !message;
  if (message) noteTimer = setTimeout(() => { noteBox.hidden = true; }, seconds * 1000);
}

// --- scrolling: stay at the newest message while content grows --------------------------------
// Cards get their height only once their content has loaded, so "scroll to the new image" is
// a state (pinned to the bottom) kept while anything in the list changes size, not a one-off.
let pinned = true;
const growth = new ResizeObserver(() => { if (pinned) toBottom(); });
growth.observe(list);
list.addEventListener("scroll", () => {
  pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}, { passive: true });
function toBottom() {
  list.scrollTop = list.scrollHeight;
}
function follow() {
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
  for (const frame of frames) frame.tabIndex = frame === current ? 0 : -1;
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

// --- socket --------------------------------------------------------------------------------------
const unknownEmbeds = new Map(); // embedId -> "seen" | "final": events for images this tab does not show
const socket = new Socket({
  onEvent: (message) => {
    if (message.type === "embed_update") {
      const payload = message.payload || {};
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
    } else if (message.type === "analysis_delta") {
      analysisDelta(message.payload);
    } else if (message.type === "message_created") {
      // Not sent by the server yet; handled so that adding it needs no change here.
      loadChatsSoon();
      if (message.payload?.chat_id === state.chatId) syncSoon();
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
let leaving = false;
window.addEventListener("beforeunload", () => { leaving = true; });
window.addEventListener("pagehide", () => { leaving = true; });
window.__omi = { socket, state };

// Tabs of this browser tell each other when they changed a chat (uploads, crops and plain
// messages make no socket event).
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("openmates-images") : null;
function announce(chatId) {
  tabs?.postMessage({ type: "chat_changed", chat_id: chatId });
}
tabs?.addEventListener("message", ({ data }) => {
  if (data?.type !== "chat_changed") return;
  loadChatsSoon();
  if (data.chat_id === state.chatId) syncSoon();
});
document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  syncSoon();
  loadChatsSoon();
  refreshProcessing();
});

// --- chats ---------------------------------------------------------------------------------------
async function loadChats() {
  const chats = await api("/v1/chats");
  state.chats = chats;
  chatList.replaceChildren(...chats.map((chat) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/c/${chat.chat_id}`;
    link.dataset.chatId = chat.chat_id;
    if (chat.cover_embed_id) {
      const thumb = document.createElement("img");
      thumb.className = "chat-thumb";
      thumb.src = fileUrl(chat.cover_embed_id, "preview");
      thumb.alt = "";
      thumb.width = 32;
      thumb.height = 32;
      thumb.loading = "lazy";
      link.append(thumb);
    } else {
      const blank = document.createElement("span");
      blank.className = "chat-thumb blank";
      blank.setAttribute("aria-hidden", "true");
      link.append(blank);
    }
    const name = document.createElement("span");
    name.className = "chat-name";
    name.textContent = chat.title || "New chat";
    link.append(name);
    link.title = chat.title || "New chat";
    link.addEventListener("click", (event) => {
      event.preventDefault();
      setDrawer(false);
      if (chat.chat_id !== state.chatId) selectChat(chat.chat_id);
    });
    item.append(link);
    return item;
  }));
  if (!chats.length) {
    const hint = document.createElement("li");
    hint.className = "chat-list-empty";
    hint.textContent = "Your chats appear here, each with its newest image.";
    chatList.append(hint);
  }
  showCurrentChat();
  return chats;
}

let chatsTimer;
function loadChatsSoon() {
  clearTimeout(chatsTimer);
  chatsTimer = setTimeout(() => loadChats().catch(() => {}), 200);
}

function showCurrentChat() {
  for (const link of chatList.querySelectorAll("a")) {
    const active = link.dataset.chatId === state.chatId;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const chat = state.chats.find((c) => c.chat_id === state.chatId);
  chatTitle.textContent = chat?.title || "New chat";
  chatTitle.title = chatTitle.textContent;
  chatActions.hidden = !chat;
}

function setChat(chatId) {
  state.chatId = chatId;
  history.replaceState(null, "", chatId ? `/c/${chatId}` : "/");
  showCurrentChat();
}

let selectToken = 0;
function selectChat(chatId) {
  const token = ++selectToken;
  setChat(chatId);
  list.replaceChildren();
  delete list.dataset.loaded;
  showError("");
  pinned = true;
  state.loading = (async () => {
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
  return state.loading;
}

const EXAMPLES = [
  "An orange tabby cat at sunset",
  "A lighthouse on a rocky cliff at night",
  "A red sports car in the city",
  "A green apple on a table",
];

/** The empty chat teaches: example prompts to start from, and what each model is for. */
/** Why a model cannot be picked here, in the server's words (no key, or the provider says it is gone). */
function unavailableWhy(model) {
  return model.unavailable_reason || "not configured";
}

function emptyState() {
  const item = document.createElement("li");
  item.className = "empty";
  item.dataset.testid = "empty-state";
  const title = document.createElement("h2");
  title.textContent = "What should we make?";
  const how = document.createElement("p");
  how.textContent = "Describe an image and press Enter. Open an image to crop it, draw on it or mark a part to change. " +
    "Attach photos with the clip, by dragging them here, or by pasting.";
  const examples = document.createElement("div");
  examples.className = "examples";
  examples.setAttribute("role", "group");
  examples.setAttribute("aria-label", "Example prompts");
  for (const text of EXAMPLES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.testid = "example-prompt";
    button.textContent = text;
    button.addEventListener("click", () => {
      input.value = text;
      autosize();
      updateCounter();
      input.focus();
    });
    examples.append(button);
  }
  const guide = document.createElement("ul");
  guide.className = "model-guide";
  guide.dataset.testid = "model-guide";
  for (const model of state.models || []) {
    const entry = document.createElement("li");
    const name = document.createElement("b");
    name.textContent = model.label;
    entry.append(name, ` — ${MODEL_USES[model.tier] || model.tier}${model.available ? "" : ` (unavailable here: ${unavailableWhy(model)})`}`);
    guide.append(entry);
  }
  item.append(title, how, examples, guide);
  return item;
}

const MODEL_USES = {
  offline: "works without any service: instant drafts to try the app",
  draft: "fast, good everyday pictures and edits",
  "high-end": "the most detailed results, slower and dearer",
};

function restoreEmptyState() {
  if (!list.querySelector(".message, .empty")) list.append(emptyState());
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
    for (const embed of message.embeds) embeds.append(imageEmbed(embed.embed_id));
    item.append(embeds);
  }
  return item;
}

/** Show a message from the server once, in the server's order (local pending bubbles stay last). */
function insertMessage(message) {
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
function appendPending(text) {
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
function syncMessages() {
  const run = async () => {
    await state.loading?.catch?.(() => {});
    const chatId = state.chatId;
    if (!chatId || list.dataset.loaded !== "true") return [];
    const messages = await api(`/v1/chats/${chatId}/messages`);
    if (chatId !== state.chatId) return [];
    for (const message of messages) insertMessage(message);
    return messages;
  };
  const next = syncChain.then(run, run);
  syncChain = next.catch(() => {});
  return next;
}

let syncTimer;
function syncSoon() {
  clearTimeout(syncTimer);
  syncTimer = setTimeout(() => syncMessages().catch(() => {}), 150);
}

async function ensureChat() {
  if (state.chatId) return { chatId: state.chatId, created: false };
  const chat = await api("/v1/chats", { method: "POST", json: {} });
  setChat(chat.chat_id);
  list.dataset.loaded = "true";
  return { chatId: chat.chat_id, created: true };
}

async function discardChat(chatId) {
  // A chat made for a first message that then failed: leave nothing behind.
  await api(`/v1/chats/${chatId}`, { method: "DELETE" }).catch(() => {});
  if (state.chatId === chatId) setChat(null);
}

async function settle(chatId, pending, posted = []) {
  await syncMessages().catch(() => []);
  if (state.chatId === chatId) for (const message of posted) insertMessage(message); // if the re-read failed
  pending?.remove();
  if (state.chatId === chatId) follow();
  loadChatsSoon();
  announce(chatId);
}

/** The composer's Send: a user message with text and/or attached images. */
async function sendMessage(text, embedIds) {
  const pending = appendPending(text || (embedIds.length === 1 ? "Sending an image…" : `Sending ${embedIds.length} images…`));
  let chat;
  let message;
  try {
    chat = await ensureChat();
    message = await api(`/v1/chats/${chat.chatId}/messages`,
                        { method: "POST", json: { text, embed_ids: embedIds, reply: true } });
  } catch (error) {
    pending.remove();
    if (chat?.created) await discardChat(chat.chatId);
    restoreEmptyState();
    throw error;
  }
  await settle(chat.chatId, pending, [message]);
}

/** A tool's result: the user's request on the right, the resulting image on the assistant's side. */
async function postExchange(requestText, embedId, task = null) {
  if (task) updateTask(task);
  const pending = appendPending(requestText);
  let chat;
  const posted = [];
  try {
    chat = await ensureChat();
    posted.push(await api(`/v1/chats/${chat.chatId}/messages`, { method: "POST", json: { text: requestText } }));
    posted.push(await api(`/v1/chats/${chat.chatId}/messages`,
                          { method: "POST", json: { role: "assistant", embed_ids: [embedId] } }));
  } catch (error) {
    pending.remove();
    if (chat?.created && !posted.length) await discardChat(chat.chatId);
    else if (posted.length) await settle(chat.chatId, null, posted);
    restoreEmptyState();
    throw error;
  }
  await settle(chat.chatId, pending, posted);
}

// --- skills ------------------------------------------------------------------------------------
/** Generate over the socket. The server validates first and creates chat (when new), request
 * message, placeholder and task together, so a refused request leaves nothing behind. */
/** Make an image over the socket: from a prompt, or (``regenerateOf``) one of the user's images
 * made again by the server, its request and result one exchange in the chat either way. */
async function generate(prompt, { aspect_ratio, model, embedIds = [], regenerateOf } = {}) {
  const chatAtStart = state.chatId;
  const pending = appendPending(regenerateOf ? `Regenerate: ${prompt}` : prompt);
  const frame = regenerateOf
    ? { type: "regenerate", chat_id: chatAtStart, embed_id: regenerateOf }
    : {
      type: "generate", chat_id: chatAtStart, prompt,
      aspect_ratio: aspect_ratio || aspectSelect.value, model: model || modelSelect.value || undefined,
      ...(embedIds.length ? { embed_ids: embedIds } : {}),
    };
  let response;
  try {
    response = await socket.request(frame);
  } catch (error) {
    pending.remove();
    restoreEmptyState();
    if (error?.code === "disconnected" && socket.everConnected) {
      // It may have arrived before the line dropped; the catch-up after reconnecting shows it.
      throw { message: "The connection dropped while sending. If the request got through, the image appears here in a moment; otherwise please try again." };
    }
    throw error;
  }
  updateTask(response.payload);
  const chatId = response.message.chat_id;
  if (!chatAtStart && state.chatId === null && list.contains(pending)) {
    setChat(chatId);
    list.dataset.loaded = "true";
  }
  let messages = [];
  if (state.chatId === chatId) {
    messages = await syncMessages().catch(() => []);
    insertMessage(response.message); // in case the re-read failed
  }
  pending.remove();
  if (state.chatId === chatId) follow();
  loadChatsSoon();
  announce(chatId);
  return { response, messages };
}

/** A question about attached images, answered by the assistant (over the socket, like generate):
 * about the first image, or about the region drawn on it with "Ask about this". */
async function askAbout(question, embedIds) {
  const drawn = regions.get(embedIds[0]);
  const chatAtStart = state.chatId;
  const pending = appendPending(question);
  let response;
  try {
    response = await socket.request({
      type: "analyze", chat_id: chatAtStart, question, embed_ids: embedIds,
      embed_id: drawn ? drawn.embedId : embedIds[0], ...(drawn ? { region: drawn.region } : {}),
    });
  } catch (error) {
    pending.remove();
    restoreEmptyState();
    throw error;
  }
  updateTask(response.payload);
  const chatId = response.message.chat_id;
  if (!chatAtStart && state.chatId === null && list.contains(pending)) {
    setChat(chatId);
    list.dataset.loaded = "true";
  }
  if (state.chatId === chatId) {
    await syncMessages().catch(() => []);
    insertMessage(response.message);
  }
  pending.remove();
  if (state.chatId === chatId) follow();
  loadChatsSoon();
  announce(chatId);
}

function askReport() {
  return new Promise((resolve) => {
    const form = reportDialog.querySelector("form");
    form.reset();
    reportDialog.returnValue = "";
    reportDialog.onclose = () => {
      if (reportDialog.returnValue !== "send") return resolve(null);
      resolve({ reason: form.elements.reason.value, regenerate: form.elements.regenerate.checked });
    };
    reportDialog.showModal();
  });
}

/** Report a problem (and by default make it again from the same request). True if sent. */
async function reportImage(content) {
  const choice = await askReport();
  if (!choice) return false;
  const task = await api(`/v1/embeds/${content.embed_id}/report`, { method: "POST", json: choice });
  const reason = REPORT_REASONS[choice.reason] || choice.reason;
  if (task) await postExchange(`Reported a problem (${reason}) — generate it again`, task.embed_id, task);
  else showNote(`Thanks — your report (${reason}) was sent.`);
  return true;
}

/** A small question in a dialog: a confirmation, or one line of text. Resolves null on cancel. */
function ask({ title, text = "", value = null, label = "", ok = "OK", danger = false }) {
  return new Promise((resolve) => {
    const form = askDialog.querySelector("form");
    const field = askDialog.querySelector(".ask-field");
    const okButton = askDialog.querySelector("[data-testid=ask-ok]");
    askDialog.querySelector("#ask-title").textContent = title;
    askDialog.querySelector(".ask-text").textContent = text;
    askDialog.querySelector(".ask-text").hidden = !text;
    askDialog.querySelector(".ask-label").textContent = label;
    field.hidden = value === null;
    form.elements.value.value = value ?? "";
    okButton.textContent = ok;
    okButton.classList.toggle("danger", danger);
    okButton.classList.toggle("solid", danger);
    okButton.classList.toggle("primary", !danger);
    askDialog.returnValue = "";
    askDialog.onclose = () => resolve(askDialog.returnValue === "ok" ? form.elements.value.value : null);
    askDialog.showModal();
    if (value !== null) form.elements.value.select();
  });
}

/** Reload the open chat from the server (after something in it was deleted). */
function reloadChat() {
  const keep = pinned;
  return selectChat(state.chatId).then(() => { if (!keep) pinned = false; });
}

configureEmbeds({
  openViewer,
  hooks: {
    retry: (content) => run(() => generate(content.prompt, { aspect_ratio: content.aspect_ratio, model: content.model })),
    regenerate: (content) => run(() => reportImage(content)),
    cancel: (taskId) => run(() => socket.request({ type: "cancel", task_id: taskId }).then((r) => updateTask(r.payload))),
  },
});

configureViewer({
  ids: () => [...list.querySelectorAll("[data-testid=image-embed-preview][data-status=finished]")]
    .filter((node) => !node.classList.contains("is-results") && !node.classList.contains("is-analysis"))
    .map((node) => node.dataset.embedId)
    .filter((id, index, all) => all.indexOf(id) === index),
  actions: {
    addEmbedMessage: (embedId, text) => run(() => postExchange(text, embedId)),
    attachBlob: (blob, name, derivedFrom, region = null) =>
      attachFiles([new File([blob], name, { type: blob.type })], derivedFrom, region).then(() => input.focus()),
    edit: (embedId, prompt, mask) => run(async () => {
      const task = await api("/v1/apps/images/edit", { method: "POST", json: { embed_id: embedId, prompt, mask } });
      await postExchange(`Edit: ${prompt}`, task.embed_id, task);
    }),
    findSimilar: (embedId) => run(async () => {
      const task = await api("/v1/apps/images/reverse-search", { method: "POST", json: { embed_id: embedId } });
      await postExchange("Find similar images on the web", task.embed_id, task);
    }),
    // Again means different: the server draws a fresh seed unless the user pinned one.
    regenerate: (content) => run(async () => {
      await generate(content.prompt, { regenerateOf: content.embed_id });
      input.focus();
    }),
    report: (content) => reportImage(content).catch((error) => { showError(error.message); return false; }),
    copyPrompt: async (content) => {
      try {
        await navigator.clipboard.writeText(content.prompt);
        showNote("Prompt copied.", { seconds: 4 });
      } catch {
        showNote(`Copy failed; the prompt is: ${content.prompt}`);
      }
    },
    editPrompt: (content) => {
      input.value = content.prompt;
      if (content.aspect_ratio) aspectSelect.value = content.aspect_ratio;
      if (content.model && [...modelSelect.options].some((o) => o.value === content.model && !o.disabled)) {
        modelSelect.value = content.model;
      }
      autosize();
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      showNote("Change the prompt, then press Enter to make it again.", { seconds: 8 });
    },
    confirmDelete: (content) => ask({
      title: "Delete this image?", ok: "Delete", danger: true,
      text: "It is removed from every chat it appears in, with its files. This cannot be undone.",
    }).then((answer) => answer !== null),
    deleteImage: (content) => run(async () => {
      await api(`/v1/embeds/${content.embed_id}`, { method: "DELETE" });
      await reloadChat();
      announce(state.chatId);
      showNote("Image deleted.", { seconds: 5 });
      input.focus();
    }),
  },
});

// --- managing chats: rename, delete ---------------------------------------------------------------
app.querySelector("[data-testid=rename-chat]").addEventListener("click", () => run(async () => {
  const chat = state.chats.find((c) => c.chat_id === state.chatId);
  if (!chat) return;
  const title = await ask({ title: "Rename chat", value: chat.title, label: "Name", ok: "Rename" });
  if (title === null || !title.trim()) return;
  await api(`/v1/chats/${chat.chat_id}`, { method: "PATCH", json: { title: title.trim() } });
  await loadChats();
  announce(chat.chat_id);
}));
app.querySelector("[data-testid=delete-chat]").addEventListener("click", () => run(async () => {
  const chat = state.chats.find((c) => c.chat_id === state.chatId);
  if (!chat) return;
  const answer = await ask({
    title: `Delete “${chat.title || "New chat"}”?`, ok: "Delete chat", danger: true,
    text: "The chat and its messages are deleted. Its images stay in your other chats and in the API.",
  });
  if (answer === null) return;
  await api(`/v1/chats/${chat.chat_id}`, { method: "DELETE" });
  const chats = await loadChats();
  announce(chat.chat_id);
  await selectChat(chats[0]?.chat_id || null);
  showNote("Chat deleted.", { seconds: 5 });
  input.focus();
}));

async function run(action) {
  showError("");
  try {
    await action();
  } catch (error) {
    showError(error?.message || "Something went wrong.");
  }
}

// --- composer: text, attachments, send ----------------------------------------------------------
function clearAttachments() {
  state.attachments = [];
  attachmentsBox.replaceChildren();
}

async function attachFiles(files, derivedFrom = null, region = null) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) { showError(`${file.name} is not an image.`); continue; }
    const chip = document.createElement("div");
    chip.className = "attachment uploading";
    chip.textContent = `Uploading ${file.name}…`;
    attachmentsBox.append(chip);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      if (derivedFrom) form.append("derived_from", derivedFrom);
      const content = !derivedFrom && privateChosen(composer) // private: encrypted here (private-upload.js)
        ? await uploadPrivate(file) : await api("/v1/embeds/upload", { method: "POST", form });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      remove.textContent = "×";
      remove.addEventListener("click", () => {
        state.attachments = state.attachments.filter((id) => id !== content.embed_id);
        chip.remove();
      });
      chip.className = "attachment";
      chip.replaceChildren(imageEmbed(content.embed_id), remove);
      state.attachments.push(content.embed_id);
      if (region && derivedFrom) regions.set(content.embed_id, { embedId: derivedFrom, region });
    } catch (error) {
      chip.remove();
      showError(`${file.name}: ${error.message}`);
    }
  }
}

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(160, input.scrollHeight)}px`;
}

attachInput.addEventListener("change", () => { attachFiles([...attachInput.files]); attachInput.value = ""; });
composer.addEventListener("dragover", (event) => { event.preventDefault(); composer.classList.add("dragging"); });
composer.addEventListener("dragleave", () => composer.classList.remove("dragging"));
composer.addEventListener("drop", (event) => {
  event.preventDefault();
  composer.classList.remove("dragging");
  attachFiles([...event.dataTransfer.files]);
});
input.addEventListener("paste", (event) => {
  const files = [...event.clipboardData.items].filter((i) => i.kind === "file").map((i) => i.getAsFile());
  if (files.length) { event.preventDefault(); attachFiles(files); }
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); composer.requestSubmit(); }
});
input.addEventListener("input", () => { autosize(); updateCounter(); });

// The description's length, shown as it nears the limit (the server's limit, said in words).
const PROMPT_MAX = Number(app.dataset.promptMax) || 4000;
const counter = composer.querySelector("[data-testid=composer-counter]");
function updateCounter() {
  const length = input.value.trim().length;
  counter.hidden = length < PROMPT_MAX * 0.8;
  counter.textContent = `${length} / ${PROMPT_MAX}`;
  counter.classList.toggle("over", length > PROMPT_MAX);
}

// Enter (Send) always gets an answer: a description makes an image; a message with images
// attached is answered by the server (honestly, while image questions cannot be answered).
composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (/^\/image(\s|$)/.test(text)) return sendGenerate(text.replace(/^\/image\s*/, ""));
  if (!text && !state.attachments.length) return;
  if (!state.attachments.length) return sendGenerate(text);
  const embedIds = [...state.attachments];
  run(async () => {
    if (text && embedIds.length) await askAbout(text, embedIds); // a question about the images
    else await sendMessage(text, embedIds);
    input.value = "";
    autosize();
    clearAttachments();
  }).then(() => input.focus());
});
composer.querySelector("[data-testid=generate-button]").addEventListener("click", () =>
  sendGenerate(input.value.trim().replace(/^\/image\s*/, "")));

function sendGenerate(prompt) {
  if (!prompt) { showError("Describe the image first."); input.focus(); return; }
  if (prompt.length > PROMPT_MAX) {
    showError(`That description is ${prompt.length} characters long; at most ${PROMPT_MAX} fit. Please shorten it.`);
    input.focus();
    return;
  }
  const attached = [...state.attachments];
  showNote("");
  return run(async () => {
    const { response, messages } = await generate(prompt, { embedIds: attached });
    input.value = "";
    autosize();
    updateCounter();
    if (!attached.length) return;
    // Attachments go with the request where the server takes them; otherwise say so plainly.
    const index = messages.findIndex((m) => m.message_id === response.message.message_id);
    const request = index > 0 ? messages[index - 1] : null;
    if (request && attached.every((id) => request.embeds.some((e) => e.embed_id === id))) {
      clearAttachments();
    } else {
      const what = attached.length === 1 ? "Your attached image was" : `Your ${attached.length} attached images were`;
      showNote(`${what} not used: image generation works from the text only. ` +
               "They are still in the composer — press Send to share them, or × to remove them.");
    }
  }).then(() => input.focus());
}

app.querySelector("[data-testid=new-chat]").addEventListener("click", () => {
  setDrawer(false);
  selectChat(null);
  input.focus();
});

// --- phone: the chat list as a drawer ------------------------------------------------------------
const narrow = matchMedia("(max-width: 760px)");
function setDrawer(open) {
  const wasOpen = app.classList.contains("drawer-open");
  app.classList.toggle("drawer-open", open);
  backdrop.hidden = !open;
  menuButton?.setAttribute("aria-expanded", String(open));
  if (open) (sidebar.querySelector(".chat-list a.active") || sidebar.querySelector(".new-chat")).focus();
  else if (wasOpen && sidebar.contains(document.activeElement)) menuButton?.focus();
}
menuButton?.addEventListener("click", () => setDrawer(!app.classList.contains("drawer-open")));
backdrop.addEventListener("click", () => setDrawer(false));
app.querySelector("[data-testid=chat-menu-close]").addEventListener("click", () => setDrawer(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && app.classList.contains("drawer-open")) { event.preventDefault(); setDrawer(false); }
});
narrow.addEventListener("change", () => { if (!narrow.matches) setDrawer(false); });

// A placeholder that fits the composer on a phone.
const tiny = matchMedia("(max-width: 480px)");
function placeholder() {
  input.placeholder = tiny.matches ? "Describe an image…" : "Describe an image, or write a message";
}
tiny.addEventListener("change", placeholder);
placeholder();

// --- start ---------------------------------------------------------------------------------------
async function loadModels() {
  const { default: fallback, models } = await api("/v1/apps/images/models");
  state.models = models;
  const empty = list.querySelector(".empty");
  if (empty) empty.replaceWith(emptyState());
  modelSelect.replaceChildren(...models.map((model) => {
    const option = document.createElement("option");
    option.value = model.id;
    option.disabled = !model.available;
    option.textContent = `${model.label}${model.available ? "" : ` — unavailable: ${unavailableWhy(model)}`}`;
    if (!model.available) option.title = unavailableWhy(model);
    option.selected = model.id === fallback;
    return option;
  }));
}

loadModels().catch((error) => showError(`Models could not be loaded: ${error.message}`));
input.focus(); // ready to type, as in every chat app
loadChats()
  .then((chats) => selectChat(state.chatId || chats[0]?.chat_id || null))
  .catch((error) => {
    showError(`Your chats could not be loaded: ${error.message}`);
    selectChat(state.chatId);
  });
