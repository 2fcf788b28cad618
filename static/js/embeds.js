// ImageEmbedPreview: one component for uploaded, generated and search-result images, plus the
// live "Generate image" card it grows from. Cards re-render from (content, task) state.
//
// Live state comes from the socket's embed_update events; REST is the source of truth whenever
// the socket may have missed something. A card still "processing" is re-checked over REST when
// nothing has been heard about it for a while (with backoff), so it always converges to its
// final state even if an event is lost (a reconnect, a dropped channel-layer message).
import { renderAnalysis } from "./analysis.js";
import { api, embedContent, fileUrl } from "./api.js";
import { decryptInto } from "./hybrid-embeds.js";
import { finishedVersions, mayHaveVersions, noteVersion, onLineageChange } from "./versions.js";

const cards = new Map(); // embedId -> Set of elements
const tasks = new Map(); // embedId -> latest task payload
const heard = new Map(); // embedId -> {at, wait}: when we last learnt something, next quiet limit
const AI_SOURCES = new Set(["generated", "edit"]);
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const QUIET_MIN_MS = 4000;
const QUIET_MAX_MS = 30000;
// Cards fit a box this size without being scaled up past their preview.
const BOX = { width: 420, height: 400 };
const PREVIEW_BOX = { width: 600, height: 400 }; // the server's preview size limit
const MIN_CARD_WIDTH = 120;
let openViewer = () => {};
let hooks = { retry: () => {}, regenerate: () => {}, cancel: () => {} };

export function configureEmbeds(options) {
  openViewer = options.openViewer;
  hooks = { ...hooks, ...options.hooks };
}

export function knownTask(embedId) {
  return tasks.get(embedId);
}

export function hasCard(embedId) {
  return [...(cards.get(embedId) || [])].some((node) => node.isConnected);
}

export function pendingEmbeds() {
  return [...tasks.entries()].filter(([, t]) => !TERMINAL.has(t.status));
}

/** Ids of the cards on the page still waiting for their result. */
export function processingEmbeds() {
  const ids = new Set();
  for (const [embedId, nodes] of cards) {
    for (const node of nodes) {
      if (!node.isConnected) nodes.delete(node);
      else if (node.dataset.status === "processing") ids.add(embedId);
    }
    if (!nodes.size) cards.delete(embedId);
  }
  return [...ids];
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value); // CSSOM: allowed by a strict CSP
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

export function imageEmbed(embedId, initialTask = null) {
  // A named group; its one tab stop is the image's own button (the chat roves between them).
  const node = el("figure", { class: "embed", "data-testid": "image-embed-preview", "data-embed-id": embedId,
                              "data-status": "processing", role: "group", "aria-label": "Image" },
                  el("div", { class: "placeholder skeleton" }));
  if (!cards.has(embedId)) cards.set(embedId, new Set());
  cards.get(embedId).add(node);
  if (initialTask) updateTask(initialTask);
  render(node, embedId);
  return node;
}

function noteHeard(embedId) {
  heard.set(embedId, { at: Date.now(), wait: QUIET_MIN_MS });
}

function changed(known, payload) {
  return !known || ["status", "progress", "stage", "queue_position"].some((key) => known[key] !== payload[key]);
}

export function updateTask(payload) {
  if (!payload?.embed_id) return;
  const known = tasks.get(payload.embed_id);
  if (changed(known, payload)) noteHeard(payload.embed_id);
  // Events can overtake the reply that created the card: never step back from a final state.
  if (known && TERMINAL.has(known.status) && !TERMINAL.has(payload.status)) return;
  tasks.set(payload.embed_id, payload);
  for (const node of cards.get(payload.embed_id) || []) render(node, payload.embed_id);
}

const refreshing = new Map(); // embedId -> promise: one REST re-check at a time per embed
export function refreshEmbed(embedId) {
  if (refreshing.has(embedId)) return refreshing.get(embedId);
  const promise = (async () => {
    const content = await embedContent(embedId, { fresh: true });
    if (content.task_id) {
      updateTask(await api(`/v1/tasks/${content.task_id}`));
    } else {
      noteHeard(embedId);
      for (const node of cards.get(embedId) || []) render(node, embedId);
    }
  })().finally(() => refreshing.delete(embedId));
  return promise;
}

/** Re-check every card still processing over REST (after a reconnect, or a tab comes back). */
export function refreshProcessing() {
  const ids = new Set([...processingEmbeds(), ...pendingEmbeds().map(([id]) => id)]);
  return Promise.allSettled([...ids].map((id) => refreshEmbed(id)));
}

// The watchdog: a processing card that has been quiet for a while is re-checked over REST,
// with a backoff that resets whenever something is heard about it.
setInterval(() => {
  if (document.hidden) return;
  const now = Date.now();
  for (const embedId of processingEmbeds()) {
    const entry = heard.get(embedId);
    if (!entry) { heard.set(embedId, { at: now, wait: QUIET_MIN_MS }); continue; }
    if (now - entry.at < entry.wait || refreshing.has(embedId)) continue;
    const wait = Math.min(QUIET_MAX_MS, entry.wait * 2);
    refreshEmbed(embedId)
      .catch(() => {})
      .finally(() => {
        // Nothing new: back off. (updateTask resets the entry when the state changed.)
        const current = heard.get(embedId);
        if (!current || current.at <= now) heard.set(embedId, { at: Date.now(), wait });
      });
  }
}, 1000);

function etaText(task) {
  if (!task.estimated_finish_at) return "";
  const seconds = Math.max(0, Math.round((new Date(task.estimated_finish_at) - Date.now()) / 1000));
  if (seconds > 0) return seconds >= 90 ? `about ${Math.round(seconds / 60)} min left` : `about ${seconds}s left`;
  // Past the estimate: say what is true rather than "finishing" (the server re-estimates on the
  // next update, and the watchdog asks for one).
  return task.status === "queued" ? "waiting for a free worker…" : "taking longer than usual…";
}

function ordinal(n) {
  const rest = n % 100;
  const suffix = rest >= 11 && rest <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

function queueText(task) {
  if (task?.status === "queued" && task.server_queue_position) {
    return task.server_queue_position === 1 ? "next in line" : `${ordinal(task.server_queue_position)} in line`;
  }
  if (task?.queue_position) return `#${task.queue_position} in the provider's queue`;
  return "";
}

const STAGES = { queued: "Queued", starting: "Starting", provider: "Generating", generating: "Generating",
                 encoding: "Encoding", storing: "Encrypting & saving", retrying: "Retrying", done: "Done" };

const fetchingTask = new Map(); // embedId -> promise of the task's first REST read
function adoptTask(embedId, taskId) {
  // A card loaded from REST (another tab's request, a reload) learns its task before it is
  // painted, so it shows prompt, model, progress and Cancel at once, not at the next event.
  if (!fetchingTask.has(embedId)) {
    const promise = api(`/v1/tasks/${taskId}`)
      .then((task) => { updateTask(task); return true; })
      .catch(() => false)
      .finally(() => fetchingTask.delete(embedId));
    fetchingTask.set(embedId, promise);
  }
  return fetchingTask.get(embedId);
}

async function render(node, embedId) {
  const token = (node._renderToken = (node._renderToken || 0) + 1);
  let content;
  try {
    content = await embedContent(embedId, { fresh: node.dataset.status !== "finished" });
  } catch (error) {
    if (token !== node._renderToken) return;
    node.replaceChildren(el("div", { class: "placeholder failed" }, el("p", { class: "error", text: error.message })));
    return;
  }
  if (token !== node._renderToken) return;
  const task = tasks.get(embedId);
  let status = content.status;
  if (task?.status === "completed") status = "finished";
  else if (["failed", "cancelled"].includes(task?.status)) status = "error";
  else if (task) status = "processing";
  if (status === "finished" && content.status !== "finished") {
    try {
      content = await embedContent(embedId, { fresh: true });
    } catch {
      return; // the watchdog will try again
    }
    if (token !== node._renderToken) return;
    if (content.status !== "finished") status = "processing";
  }
  if (status === "processing" && !task && content.task_id) {
    if (await adoptTask(embedId, content.task_id)) return; // updateTask painted every card of it
    if (token !== node._renderToken) return;
  }
  const previous = node.dataset.status;
  node.dataset.status = status;
  node._shown = null; // the version shown, once it is a finished image (renderStepper)
  const what = content.prompt || content.file_name || "image";
  node.setAttribute("aria-label", status === "processing" ? `Making: ${what}`
    : status === "error" ? `Failed: ${what}` : content.type === "image_search_results" ? "Similar images" : what);
  node.classList.toggle("is-results", content.type === "image_search_results");
  if (content.root_id) {
    node.dataset.rootId = content.root_id;
    noteVersion({ ...content, status }); // a lineage read before this version existed is read again
  }
  if (content.type === "image_search_results") return renderResults(node, content, status, task);
  if (content.type === "image_analysis") return renderAnalysis(node, content, status, task, { el, cancel: hooks.cancel });
  if (status === "processing") return renderProgress(node, content, task);
  if (status === "error") return renderError(node, content, task);
  const shown = node.dataset.shownId;
  if (shown && shown !== embedId) {
    // The card was stepped to another version of its image: it keeps showing that one.
    const other = await embedContent(shown).catch(() => null);
    if (token !== node._renderToken) return;
    if (other?.status === "finished") content = other;
    else delete node.dataset.shownId;
  }
  renderImage(node, content, previous === "processing");
  renderStepper(node, content);
}

// --- versions: a card whose image has several steps through them ------------------------------
// The card's own image stays its identity (data-embed-id: the chat's message, the viewer's
// previous/next); data-shown-id names the version it shows after stepping.
async function renderStepper(node, content) {
  const token = node._renderToken;
  node._shown = content;
  const focused = node.querySelector(".versions")?.contains(document.activeElement) && document.activeElement.dataset.testid;
  if (focused) node._stepFocus = focused; // a redraw keeps the keyboard on the same button
  node.querySelector(".versions")?.remove();
  if (!mayHaveVersions(content)) return;
  let versions;
  try {
    versions = await finishedVersions(content);
  } catch {
    return; // the count stays unshown; the image itself is there
  }
  if (token !== node._renderToken || !node.isConnected) return;
  node.querySelector(".versions")?.remove();
  const index = versions.findIndex((version) => version.embed_id === content.embed_id);
  if (versions.length < 2 || index < 0) return;
  const step = (by) => {
    const next = versions[(index + by + versions.length) % versions.length];
    node.dataset.shownId = next.embed_id;
    node._stepFocus = by < 0 ? "version-prev" : "version-next"; // keep the keyboard where it was
    render(node, node.dataset.embedId);
  };
  const bar = el("div", { class: "versions", role: "group", "data-testid": "version-stepper",
                          "aria-label": `Versions: ${index + 1} of ${versions.length}` },
    el("button", { type: "button", "data-testid": "version-prev", "aria-label": "Previous version",
                   title: "Previous version (←)", text: "←", onclick: (e) => { e.stopPropagation(); step(-1); } }),
    el("span", { "data-testid": "version-count", text: `${versions.length} versions` }),
    el("span", { class: "muted", "data-testid": "version-position", text: `${index + 1}/${versions.length}` }),
    el("button", { type: "button", "data-testid": "version-next", "aria-label": "Next version",
                   title: "Next version (→)", text: "→", onclick: (e) => { e.stopPropagation(); step(1); } }));
  bar.addEventListener("click", (e) => e.stopPropagation()); // the bar is no click on the image
  bar.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    e.stopPropagation();
    step(e.key === "ArrowLeft" ? -1 : 1);
  });
  node.querySelector(".frame").after(bar);
  if (node._stepFocus) {
    bar.querySelector(`[data-testid=${node._stepFocus}]`).focus();
    delete node._stepFocus;
  }
}

// A lineage read again (a version made or finished, over the socket or here): every card of it
// redraws its count.
onLineageChange((rootId) => {
  for (const nodes of cards.values()) {
    for (const node of nodes) {
      // Only the count is redrawn: the image (and the keyboard focus on it) stays as it is.
      if (node.isConnected && node.dataset.rootId === rootId && node._shown) renderStepper(node, node._shown);
    }
  }
});

/** The size a card shows an image of w×h at: fit the box, never scaled up past its preview. */
function displaySize(width, height) {
  const scale = Math.min(1, BOX.width / width, BOX.height / height);
  let w = width * scale;
  let h = height * scale;
  if (w < MIN_CARD_WIDTH) { h *= MIN_CARD_WIDTH / w; w = MIN_CARD_WIDTH; }
  return { width: Math.round(w), height: Math.round(h) };
}

/** The preview the server will make for an aspect ratio (it fits 600×400), for placeholders. */
function previewForRatio(ratio) {
  const [w, h] = (ratio || "1:1").split(":").map(Number);
  if (!w || !h) return { width: 400, height: 400 };
  const scale = Math.min(PREVIEW_BOX.width / w, PREVIEW_BOX.height / h);
  return { width: w * scale, height: h * scale };
}

function sizeCard(node, width, height) {
  const size = displaySize(width, height);
  node.style.setProperty("--card-w", `${size.width}px`);
  node.style.setProperty("--card-ratio", `${width} / ${height}`);
}

function renderProgress(node, content, task) {
  const preview = previewForRatio(content.aspect_ratio);
  sizeCard(node, preview.width, preview.height);
  const progress = task?.progress ?? 0;
  const stage = STAGES[task?.stage] || "Queued";
  const queue = queueText(task);
  const eta = el("span", { class: "eta", "data-testid": "eta", text: task ? etaText(task) : "" });
  node.replaceChildren(
    el("div", { class: "placeholder generating sized" },
      el("div", { class: "gen-meta" },
        el("p", { class: "prompt", text: content.prompt || "" }),
        el("p", { class: "model", text: `${content.model_label || content.model || ""}` }),
        el("div", { class: "bar", role: "progressbar", "aria-label": "Progress", "aria-valuemin": "0", "aria-valuemax": "100",
                    "aria-valuenow": String(progress), "data-testid": "progress" },
          el("span", { style: { width: `${Math.max(3, progress)}%` } })),
        el("p", { class: "stage" }, el("span", { text: stage }),
          queue ? " · " : null, queue ? el("span", { "data-testid": "queue-place", text: queue }) : null,
          " · ", eta),
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
  if (content.aspect_ratio) {
    const preview = previewForRatio(content.aspect_ratio);
    sizeCard(node, preview.width, preview.height);
  }
  node.replaceChildren(
    el("div", { class: `placeholder failed${content.aspect_ratio ? " sized" : ""}` },
      el("div", { class: "gen-meta" },
        el("p", { class: "prompt", text: content.prompt || content.file_name || "" }),
        el("p", { class: "error", "data-testid": "embed-error", text: error.message }),
        // Retry generates from the prompt: right for a generation, wrong for an edit (which would
        // become a new picture of its instruction), so a failed edit is redone from the viewer.
        content.source === "generated" && content.prompt
          ? el("button", { type: "button", "data-testid": "retry", text: "Retry",
                           onclick: (e) => { e.stopPropagation(); hooks.retry(content); } })
          : null)));
}

function renderImage(node, content, justFinished) {
  const preview = content.files?.preview || { width: 600, height: 400 };
  sizeCard(node, preview.width, preview.height);
  const isAi = Boolean(content.ai_made);
  const img = el("img", { src: content.private ? null : fileUrl(content.embed_id, "preview"), loading: "lazy", decoding: "async",
                          width: String(preview.width), height: String(preview.height),
                          alt: content.prompt || content.file_name || "Image" });
  img.addEventListener("load", () => img.classList.add("loaded"));
  // The card's click target for keyboards and screen readers (a click anywhere on it works too).
  const frame = el("button", { type: "button", class: "frame", "data-testid": "open-image",
                               "aria-label": `Open image: ${content.prompt || content.file_name || "image"}` }, img);
  if (isAi) {
    const badge = el("span", { class: "ai-badge", "data-testid": "ai-badge", title: "Made with AI", text: "AI" });
    frame.append(badge);
    setTimeout(() => badge.classList.add("faded"), justFinished ? 4000 : 0);
  }
  const children = [frame];
  if (AI_SOURCES.has(content.source) && !safetyNoteDismissed()) {  // reported / regenerated: see the viewer
    const note = el("div", { class: "safety-note", "data-testid": "safety-note" },
      el("span", { text: "AI images can contain artifacts: check details before publishing." }),
      el("button", { type: "button", class: "linklike", "data-testid": "report-regenerate", text: "Report problem / Regenerate",
                     onclick: (e) => { e.stopPropagation(); hooks.regenerate(content); } }),
      el("button", { type: "button", class: "dismiss", "data-testid": "dismiss-safety-note",
                     "aria-label": "Dismiss this note (Report and Regenerate stay in the viewer)", text: "×",
                     onclick: (e) => { e.stopPropagation(); dismissSafetyNote(); } }));
    children.push(note);
  }
  node.replaceChildren(...children);
  if (content.private) decryptInto(img, content, "preview"); // client mode: decrypted here (hybrid-embeds.js)
  if (img.complete && img.naturalWidth) img.classList.add("loaded");
  node.onclick = () => openViewer(content.embed_id, node.dataset.embedId); // the version shown, in its card's place
}

// The safety note, once dismissed, stays dismissed (this browser): it teaches once.
const NOTE_KEY = "omi.safetyNoteDismissed";
function safetyNoteDismissed() {
  try { return localStorage.getItem(NOTE_KEY) === "1"; } catch { return false; }
}
function dismissSafetyNote() {
  try { localStorage.setItem(NOTE_KEY, "1"); } catch { /* private mode: for this page only */ }
  for (const note of document.querySelectorAll("[data-testid=safety-note]")) note.remove();
}

function renderResults(node, content, status, task) {
  node.style.removeProperty("--card-w");
  if (status === "processing") {
    node.replaceChildren(el("div", { class: "placeholder generating small" },
      el("p", { text: "Searching the web for similar images…" }),
      el("div", { class: "bar", role: "progressbar", "aria-label": "Search progress", "aria-valuemin": "0",
                  "aria-valuemax": "100", "aria-valuenow": String(task?.progress || 0) },
        el("span", { style: { width: `${Math.max(5, task?.progress || 5)}%` } }))));
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
