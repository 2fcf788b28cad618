// The chat app: chats, messages, the composer and its skills, wired to REST and the socket.
import { api } from "./api.js";
import { configureEmbeds, imageEmbed, pendingEmbeds, refreshEmbed, updateTask } from "./embeds.js";
import { configureViewer, openViewer } from "./fullscreen.js";
import { Socket } from "./socket.js";

const app = document.getElementById("app");
const list = app.querySelector("[data-testid=messages]");
const chatList = app.querySelector("[data-testid=chat-list]");
const composer = app.querySelector("[data-testid=composer]");
const input = composer.querySelector("[data-testid=composer-input]");
const attachInput = composer.querySelector("[data-testid=attach-input]");
const attachmentsBox = composer.querySelector("[data-testid=attachments]");
const aspectSelect = composer.querySelector("[data-testid=aspect-ratio]");
const modelSelect = composer.querySelector("[data-testid=model-select]");
const errorBox = composer.querySelector("[data-testid=composer-error]");
const connection = app.querySelector("[data-testid=connection]");

const state = { chatId: app.dataset.chatId || null, attachments: [] };

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

// --- socket --------------------------------------------------------------------------------------
const socket = new Socket({
  onEvent: (message) => { if (message.type === "embed_update") updateTask(message.payload); },
  onState: (value) => {
    connection.dataset.state = value;
    connection.textContent = value === "online" ? "" : value === "offline" ? "Reconnecting…" : "Connecting…";
  },
  onReconnect: () => {
    // Events sent while we were away are gone: catch up over REST.
    for (const [embedId] of pendingEmbeds()) refreshEmbed(embedId);
  },
});
window.__omi = { socket, state };

// --- chats and messages ------------------------------------------------------------------------
async function loadChats() {
  const chats = await api("/v1/chats");
  chatList.replaceChildren(...chats.map((chat) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/c/${chat.chat_id}`;
    link.textContent = chat.title || "New chat";
    link.className = chat.chat_id === state.chatId ? "active" : "";
    link.addEventListener("click", (event) => { event.preventDefault(); selectChat(chat.chat_id); });
    item.append(link);
    return item;
  }));
  return chats;
}

async function selectChat(chatId) {
  state.chatId = chatId;
  history.replaceState(null, "", chatId ? `/c/${chatId}` : "/");
  for (const link of chatList.querySelectorAll("a")) link.classList.toggle("active", link.href.endsWith(chatId));
  list.replaceChildren();
  delete list.dataset.loaded;
  if (chatId) {
    const messages = await api(`/v1/chats/${chatId}/messages`);
    if (!messages.length) list.append(emptyState());
    for (const message of messages) appendMessage(message, { scroll: false });
    list.scrollTop = list.scrollHeight;
  } else {
    list.append(emptyState());
  }
  list.dataset.loaded = "true";
}

function emptyState() {
  const item = document.createElement("li");
  item.className = "empty";
  item.innerHTML = "<h2>What should we make?</h2><p>Type a description and press <b>Generate image</b>, or start with <code>/image</code>. Attach photos with the clip, by dragging them here, or by pasting.</p>";
  return item;
}

function appendMessage(message, { scroll = true } = {}) {
  list.querySelector(".empty")?.remove();
  const item = document.createElement("li");
  item.className = `message ${message.role}`;
  item.dataset.messageId = message.message_id;
  if (message.text) {
    const text = document.createElement("p");
    text.textContent = message.text;
    item.append(text);
  }
  if (message.embeds.length) {
    const embeds = document.createElement("div");
    embeds.className = "message-embeds";
    for (const embed of message.embeds) embeds.append(imageEmbed(embed.embed_id));
    item.append(embeds);
  }
  list.append(item);
  if (scroll) item.scrollIntoView({ block: "end", behavior: "smooth" });
}

async function ensureChat() {
  if (state.chatId) return state.chatId;
  const chat = await api("/v1/chats", { method: "POST", json: {} });
  state.chatId = chat.chat_id;
  history.replaceState(null, "", `/c/${chat.chat_id}`);
  return chat.chat_id;
}

async function postMessage(text, embedIds) {
  const chatId = await ensureChat();
  const message = await api(`/v1/chats/${chatId}/messages`, { method: "POST", json: { text, embed_ids: embedIds } });
  appendMessage(message);
  loadChats();
  return message;
}

// --- skills ------------------------------------------------------------------------------------
async function generate(prompt, { aspect_ratio, model } = {}) {
  const response = await socket.request({
    type: "generate", chat_id: state.chatId, prompt,
    aspect_ratio: aspect_ratio || aspectSelect.value, model: model || modelSelect.value || undefined,
  });
  if (!state.chatId) {
    state.chatId = response.message.chat_id;
    history.replaceState(null, "", `/c/${state.chatId}`);
    await selectChat(state.chatId);
    updateTask(response.payload);
  } else {
    const user = { message_id: "", role: "user", text: `/image ${prompt}`, embeds: [] };
    appendMessage(user, { scroll: false });
    updateTask(response.payload);
    appendMessage(response.message);
  }
  loadChats();
}

async function addTaskMessage(task, text) {
  updateTask(task);
  await postMessage(text, [task.embed_id]);
}

configureEmbeds({
  openViewer,
  hooks: {
    retry: (content) => run(() => generate(content.prompt, { aspect_ratio: content.aspect_ratio, model: content.model })),
    regenerate: (content) => run(async () => {
      const task = await api(`/v1/embeds/${content.embed_id}/report`, { method: "POST",
                                                                          json: { reason: "artifacts", regenerate: true } });
      await addTaskMessage(task, "Reported a problem — generating again");
    }),
    cancel: (taskId) => run(() => socket.request({ type: "cancel", task_id: taskId }).then((r) => updateTask(r.payload))),
  },
});

configureViewer({
  ids: () => [...list.querySelectorAll("[data-testid=image-embed-preview][data-status=finished]")]
    .filter((node) => !node.classList.contains("is-results"))
    .map((node) => node.dataset.embedId)
    .filter((id, index, all) => all.indexOf(id) === index),
  actions: {
    addEmbedMessage: (embedId, text) => postMessage(text, [embedId]),
    attachBlob: (blob, name) => attachFiles([new File([blob], name, { type: blob.type })]),
    edit: (embedId, prompt, mask) => run(async () => {
      const task = await api("/v1/apps/images/edit", { method: "POST", json: { embed_id: embedId, prompt, mask } });
      await addTaskMessage(task, `Edit: ${prompt}`);
    }),
    findSimilar: (embedId) => run(async () => {
      const task = await api("/v1/apps/images/reverse-search", { method: "POST", json: { embed_id: embedId } });
      await addTaskMessage(task, "Find similar images on the web");
    }),
  },
});

async function run(action) {
  showError("");
  try {
    await action();
  } catch (error) {
    showError(error.message || "Something went wrong.");
  }
}

// --- composer: text, attachments, send ----------------------------------------------------------
async function attachFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) { showError(`${file.name} is not an image.`); continue; }
    const chip = document.createElement("div");
    chip.className = "attachment uploading";
    chip.textContent = `Uploading ${file.name}…`;
    attachmentsBox.append(chip);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      const content = await api("/v1/embeds/upload", { method: "POST", form });
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
    } catch (error) {
      chip.remove();
      showError(`${file.name}: ${error.message}`);
    }
  }
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
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
});
input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = `${Math.min(160, input.scrollHeight)}px`; });

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text.startsWith("/image")) return sendGenerate(text.replace(/^\/image\s*/, ""));
  if (!text && !state.attachments.length) return;
  run(async () => {
    await postMessage(text, state.attachments);
    input.value = "";
    state.attachments = [];
    attachmentsBox.replaceChildren();
  });
});
composer.querySelector("[data-testid=generate-button]").addEventListener("click", () =>
  sendGenerate(input.value.trim().replace(/^\/image\s*/, "")));

function sendGenerate(prompt) {
  if (!prompt) { showError("Describe the image first."); input.focus(); return; }
  run(async () => {
    await generate(prompt);
    input.value = "";
  });
}

app.querySelector("[data-testid=new-chat]").addEventListener("click", () => { selectChat(null); input.focus(); });

// --- start ---------------------------------------------------------------------------------------
async function loadModels() {
  const { default: fallback, models } = await api("/v1/apps/images/models");
  modelSelect.replaceChildren(...models.map((model) => {
    const option = document.createElement("option");
    option.value = model.id;
    option.disabled = !model.available;
    option.textContent = `${model.label}${model.available ? "" : " — not configured"}`;
    option.selected = model.id === fallback;
    return option;
  }));
}

loadModels();
loadChats().then((chats) => selectChat(state.chatId || chats[0]?.chat_id || null));
