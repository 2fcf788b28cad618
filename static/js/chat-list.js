// The chat list (each chat with its newest image), which chat is open (and the address that
// names it), the header's rename and delete, and on a phone the list as a drawer. It owns the
// chats as last read and the open chat's id; opening a chat is the caller's (configureChatList).
import { api, fileUrl } from "./api.js";
import { ask } from "./dialogs.js";
import { run, showNote } from "./status.js";
import { announce } from "./tabs.js";

const app = document.getElementById("app");
const chatList = app.querySelector("[data-testid=chat-list]");
const sidebar = app.querySelector("[data-testid=sidebar]");
const backdrop = app.querySelector("[data-testid=drawer-backdrop]");
const menuButton = document.querySelector("[data-testid=chat-menu]");
const chatTitle = app.querySelector("[data-testid=chat-title]");
const chatActions = app.querySelector("[data-testid=chat-actions]");

let chats = [];
let chatId = app.dataset.chatId || null;
let open = () => {}; // (chatId | null) => Promise: show that chat (messages.selectChat)
let afterChange = () => {}; // after a rename or delete: give the composer focus back

/** ``select(chatId)`` opens a chat; ``done()`` runs after the header changed or deleted one. */
export function configureChatList({ select, done }) {
  open = select;
  afterChange = done;
}

export function currentChatId() {
  return chatId;
}

/** Make ``id`` the open chat (null: a new, unsaved chat) in the address bar and the list. */
export function setChat(id) {
  chatId = id;
  history.replaceState(null, "", id ? `/c/${id}` : "/");
  showCurrentChat();
}

function chatLink(chat) {
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
    if (chat.chat_id !== chatId) open(chat.chat_id);
  });
  item.append(link);
  return item;
}

export async function loadChats() {
  chats = await api("/v1/chats");
  chatList.replaceChildren(...chats.map(chatLink));
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
export function loadChatsSoon() {
  clearTimeout(chatsTimer);
  chatsTimer = setTimeout(() => loadChats().catch(() => {}), 200);
}

function showCurrentChat() {
  for (const link of chatList.querySelectorAll("a")) {
    const active = link.dataset.chatId === chatId;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const chat = chats.find((c) => c.chat_id === chatId);
  chatTitle.textContent = chat?.title || "New chat";
  chatTitle.title = chatTitle.textContent;
  chatActions.hidden = !chat;
}

// --- the header: rename, delete ------------------------------------------------------------------
app.querySelector("[data-testid=rename-chat]").addEventListener("click", () => run(async () => {
  const chat = chats.find((c) => c.chat_id === chatId);
  if (!chat) return;
  const title = await ask({ title: "Rename chat", value: chat.title, label: "Name", ok: "Rename" });
  if (title === null || !title.trim()) return;
  await api(`/v1/chats/${chat.chat_id}`, { method: "PATCH", json: { title: title.trim() } });
  await loadChats();
  announce(chat.chat_id);
}));
app.querySelector("[data-testid=delete-chat]").addEventListener("click", () => run(async () => {
  const chat = chats.find((c) => c.chat_id === chatId);
  if (!chat) return;
  const answer = await ask({
    title: `Delete “${chat.title || "New chat"}”?`, ok: "Delete chat", danger: true,
    text: "The chat and its messages are deleted. Its images stay in your other chats and in the API.",
  });
  if (answer === null) return;
  await api(`/v1/chats/${chat.chat_id}`, { method: "DELETE" });
  const left = await loadChats();
  announce(chat.chat_id);
  await open(left[0]?.chat_id || null);
  showNote("Chat deleted.", { seconds: 5 });
  afterChange();
}));

// --- phone: the chat list as a drawer ------------------------------------------------------------
const narrow = matchMedia("(max-width: 760px)");
export function setDrawer(opened) {
  const wasOpen = app.classList.contains("drawer-open");
  app.classList.toggle("drawer-open", opened);
  backdrop.hidden = !opened;
  menuButton?.setAttribute("aria-expanded", String(opened));
  if (opened) (sidebar.querySelector(".chat-list a.active") || sidebar.querySelector(".new-chat")).focus();
  else if (wasOpen && sidebar.contains(document.activeElement)) menuButton?.focus();
}
menuButton?.addEventListener("click", () => setDrawer(!app.classList.contains("drawer-open")));
backdrop.addEventListener("click", () => setDrawer(false));
app.querySelector("[data-testid=chat-menu-close]").addEventListener("click", () => setDrawer(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && app.classList.contains("drawer-open")) { event.preventDefault(); setDrawer(false); }
});
narrow.addEventListener("change", () => { if (!narrow.matches) setDrawer(false); });
