// ImageEmbedPreview: one component for uploaded, generated and search-result images, plus the
// live "Generate image" card it grows from. Cards re-render from (content, task) state.
import { api, embedContent, fileUrl } from "./api.js";

const cards = new Map(); // embedId -> Set of elements
const tasks = new Map(); // embedId -> latest task payload
const AI_SOURCES = new Set(["generated", "edit"]);
let openViewer = () => {};
let hooks = { retry: () => {}, regenerate: () => {}, cancel: () => {} };

export function configureEmbeds(options) {
  openViewer = options.openViewer;
  hooks = { ...hooks, ...options.hooks };
}

export function knownTask(embedId) {
  return tasks.get(embedId);
}

export function pendingEmbeds() {
  return [...tasks.entries()].filter(([, t]) => !TERMINAL.has(t.status));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

export function imageEmbed(embedId, initialTask = null) {
  const node = el("figure", { class: "embed", "data-testid": "image-embed-preview", "data-embed-id": embedId,
                              "data-status": "processing", tabindex: "0" });
  if (!cards.has(embedId)) cards.set(embedId, new Set());
  cards.get(embedId).add(node);
  if (initialTask) tasks.set(embedId, initialTask);
  render(node, embedId);
  return node;
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function updateTask(payload) {
  const known = tasks.get(payload.embed_id);
  // Events can overtake the reply that created the card: never step back from a final state.
  if (known && TERMINAL.has(known.status) && !TERMINAL.has(payload.status)) return;
  tasks.set(payload.embed_id, payload);
  for (const node of cards.get(payload.embed_id) || []) render(node, payload.embed_id);
}

export async function refreshEmbed(embedId) {
  const content = await embedContent(embedId, { fresh: true });
  if (content.task_id) updateTask(await api(`/v1/tasks/${content.task_id}`));
  else for (const node of cards.get(embedId) || []) render(node, embedId);
}

function etaText(task) {
  if (!task.estimated_finish_at) return "";
  const seconds = Math.max(0, Math.round((new Date(task.estimated_finish_at) - Date.now()) / 1000));
  return seconds > 0 ? `about ${seconds}s left` : "finishing…";
}

const STAGES = { queued: "Queued", starting: "Starting", provider: "Generating", generating: "Generating",
                 encoding: "Encoding", storing: "Encrypting & saving", retrying: "Retrying", done: "Done" };

async function render(node, embedId) {
  const token = (node._renderToken = (node._renderToken || 0) + 1);
  let content;
  try {
    content = await embedContent(embedId, { fresh: node.dataset.status !== "finished" });
  } catch (error) {
    node.replaceChildren(el("p", { class: "error", text: error.message }));
    return;
  }
  if (token !== node._renderToken) return;
  const task = tasks.get(embedId);
  let status = content.status;
  if (task?.status === "completed") status = "finished";
  else if (["failed", "cancelled"].includes(task?.status)) status = "error";
  else if (task) status = "processing";
  if (status === "finished" && content.status !== "finished") {
    content = await embedContent(embedId, { fresh: true });
    if (token !== node._renderToken) return;
  }
  const previous = node.dataset.status;
  node.dataset.status = status;
  node.classList.toggle("is-results", content.type === "image_search_results");
  if (content.type === "image_search_results") return renderResults(node, content, status, task);
  if (status === "processing") return renderProgress(node, content, task);
  if (status === "error") return renderError(node, content, task);
  renderImage(node, content, previous === "processing");
}

function ratioBox(width, height) {
  return `aspect-ratio: ${width} / ${height}; max-width: min(100%, ${width}px)`;
}

function renderProgress(node, content, task) {
  const [w, h] = (content.aspect_ratio || "1:1").split(":").map(Number);
  const progress = task?.progress ?? 0;
  const stage = STAGES[task?.stage] || "Queued";
  const queue = task?.queue_position ? ` · #${task.queue_position} in the provider's queue` : "";
  const eta = el("span", { class: "eta", "data-testid": "eta", text: task ? etaText(task) : "" });
  node.replaceChildren(
    el("div", { class: "placeholder generating", style: `aspect-ratio: ${w} / ${h}` },
      el("div", { class: "gen-meta" },
        el("p", { class: "prompt", text: content.prompt || "" }),
        el("p", { class: "model", text: `${content.model_label || content.model || ""}` }),
        el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
                    "aria-valuenow": String(progress), "data-testid": "progress" },
          el("span", { style: `width: ${Math.max(3, progress)}%` })),
        el("p", { class: "stage" }, el("span", { text: `${stage}${queue}` }), " · ", eta),
        task ? el("button", { type: "button", class: "cancel", text: "Cancel",
                              onclick: (e) => { e.stopPropagation(); hooks.cancel(task.task_id); } }) : null)));
  clearInterval(node._etaTimer);
  node._etaTimer = setInterval(() => {
    if (!node.isConnected || node.dataset.status !== "processing") return clearInterval(node._etaTimer);
    eta.textContent = task ? etaText(task) : "";
  }, 500);
}

function renderError(node, content, task) {
  const error = task?.error || content.error || { message: "The image could not be made." };
  node.replaceChildren(
    el("div", { class: "placeholder failed" },
      el("p", { class: "prompt", text: content.prompt || content.file_name || "" }),
      el("p", { class: "error", "data-testid": "embed-error", text: error.message }),
      content.prompt ? el("button", { type: "button", "data-testid": "retry", text: "Retry",
                                      onclick: (e) => { e.stopPropagation(); hooks.retry(content); } }) : null));
}

function renderImage(node, content, justFinished) {
  const preview = content.files?.preview || { width: 600, height: 400 };
  const isAi = AI_SOURCES.has(content.source) || (content.source === "crop" && content.prompt);
  const img = el("img", { src: fileUrl(content.embed_id, "preview"), loading: "lazy", decoding: "async",
                          width: String(preview.width), height: String(preview.height),
                          alt: content.prompt || content.file_name || "Image" });
  img.addEventListener("load", () => img.classList.add("loaded"));
  const frame = el("div", { class: "frame", style: ratioBox(preview.width, preview.height) }, img);
  if (isAi) {
    const badge = el("span", { class: "ai-badge", "data-testid": "ai-badge", title: "Made with AI", text: "AI" });
    frame.append(badge);
    setTimeout(() => badge.classList.add("faded"), justFinished ? 4000 : 0);
  }
  const children = [frame];
  if (isAi && content.source !== "crop") {
    const note = el("div", { class: "safety-note", "data-testid": "safety-note" },
      el("span", { text: "AI images can contain artifacts: check details before publishing." }),
      el("button", { type: "button", class: "linklike", "data-testid": "report-regenerate", text: "Report problem / Regenerate",
                     onclick: (e) => { e.stopPropagation(); hooks.regenerate(content); } }),
      el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", text: "×",
                     onclick: (e) => { e.stopPropagation(); note.remove(); } }));
    children.push(note);
  }
  node.replaceChildren(...children);
  node.onclick = () => openViewer(content.embed_id);
  node.onkeydown = (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openViewer(content.embed_id); }
  };
}

function renderResults(node, content, status, task) {
  if (status === "processing") {
    node.replaceChildren(el("div", { class: "placeholder generating small" },
      el("p", { text: "Searching the web for similar images…" }),
      el("div", { class: "bar" }, el("span", { style: `width: ${Math.max(5, task?.progress || 5)}%` }))));
    return;
  }
  if (status === "error") return renderError(node, content, task);
  const list = el("ul", { class: "results", "data-testid": "search-results" });
  for (const result of content.results || []) {
    const thumb = result.thumbnail
      ? el("img", { src: result.thumbnail, loading: "lazy", alt: result.title || "", referrerpolicy: "no-referrer",
                    class: "result-thumb", width: "96", height: "72" })
      : el("span", { class: "no-thumb" });
    list.append(el("li", {}, thumb, el("a", { href: result.link, target: "_blank", rel: "noopener noreferrer",
                                              text: result.title || result.link }),
                   el("small", { text: result.source || "" })));
  }
  node.replaceChildren(el("p", { class: "muted", text: content.message || `${(content.results || []).length} similar images` }), list);
}
