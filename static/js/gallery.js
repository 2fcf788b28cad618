// The gallery page (/gallery): every image of yours across chats, newest first, from
// GET /v1/embeds a page at a time (the cursor keeps pages stable while images are added).
// It owns the grid (lazy previews, infinite scroll, roving focus), the filters, the storage
// line and the selection (delete, download as ZIP). Opening an image is the chat's own viewer
// (viewer.js), over the images loaded so far; private images are decrypted here exactly as
// the chat does it (hybrid-embeds.js).
import { api, humanSize } from "./api.js";
import { ask } from "./dialogs.js";
import { decryptInto, embedKey, withKey } from "./hybrid-embeds.js";
import { configureViewer, openViewer } from "./viewer.js";

const PAGE = 60;
const page = document.querySelector("[data-testid=gallery]");
const grid = page.querySelector("[data-testid=gallery-grid]");
const filters = page.querySelector("[data-testid=gallery-filters]");
const storage = page.querySelector("[data-testid=gallery-storage]");
const endLine = page.querySelector("[data-testid=gallery-end]");
const note = page.querySelector("[data-testid=gallery-note]");
const errorBox = page.querySelector("[data-testid=gallery-error]");
const selectButton = page.querySelector("[data-testid=select-mode]");
const selectionBar = page.querySelector("[data-testid=selection-bar]");
const selectionCount = page.querySelector("[data-testid=selection-count]");
const zipButton = page.querySelector("[data-testid=download-zip]");
const deleteButton = page.querySelector("[data-testid=delete-selected]");

let cursor = null; // next_cursor of the last page; null before the first and after the last
let loading = null; // the page being fetched (one at a time)
let generation = 0; // bumped by a filter change: an older page's answer is dropped
let selecting = false;
let anchor = null; // the last tile toggled, for shift-click ranges
const selected = new Set();
const items = new Map(); // embedId -> the list's item

const tiles = () => [...grid.querySelectorAll(".tile")];
const tileOf = (id) => grid.querySelector(`.tile[data-embed-id="${CSS.escape(id)}"]`);

function say(box, text) {
  box.textContent = text;
  box.hidden = !text;
}

function showStorage(body) {
  const count = body.total_images;
  storage.textContent = `${count} image${count === 1 ? "" : "s"} · ${humanSize(body.total_bytes)} stored`;
}

function query() {
  const params = new URLSearchParams({ type: "image", limit: String(PAGE) });
  for (const [name, value] of new FormData(filters)) if (value) params.set(name, value);
  if (cursor) params.set("cursor", cursor);
  return params;
}

/** A tile's words: the prompt or the file name, for its caption, alt text and label. */
function caption(item) {
  if (item.encryption_mode === "client") return item.file_name || "Private image";
  return item.prompt || item.file_name || "Image";
}

function tile(item) {
  const li = document.createElement("li");
  li.className = "tile-item";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile frame";
  button.dataset.embedId = item.embed_id;
  button.dataset.kind = item.kind;
  button.dataset.testid = "gallery-tile";
  button.tabIndex = -1;
  const img = document.createElement("img");
  img.loading = "lazy"; // the browser fetches a preview as it nears the viewport
  img.decoding = "async";
  img.width = item.width || 300;
  img.height = item.height || 300;
  img.alt = caption(item);
  const words = document.createElement("span");
  words.className = "tile-caption";
  words.textContent = [item.model_label, caption(item)].filter(Boolean).join(" · ");
  const check = document.createElement("span");
  check.className = "tile-check";
  check.setAttribute("aria-hidden", "true");
  check.textContent = "✓";
  button.append(img, words, check);
  button.setAttribute("aria-label", `${caption(item)}${item.model_label ? `, ${item.model_label}` : ""}, ${item.kind}`);
  if (item.status !== "finished") {
    button.disabled = true;
    words.textContent = "Still being made…";
  } else {
    if (item.encryption_mode === "client") describePrivate(item, img, button, words);
    previews.observe(button);
  }
  li.append(button);
  return li;
}

// A preview is fetched (or, for a private image, fetched and decrypted) only when its tile
// comes within PREVIEW_MARGIN of the viewport: a first paint asks for the rows on screen and a
// few below, not for the whole page of tiles (loading="lazy" alone lets Chromium fetch up to
// 2500 px ahead).
const PREVIEW_MARGIN = "400px";
const previews = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    previews.unobserve(entry.target);
    const item = items.get(entry.target.dataset.embedId);
    const img = entry.target.querySelector("img");
    if (!item) continue;
    if (item.encryption_mode === "client") privateContent(item).then((content) => decryptInto(img, content, "preview"));
    else img.src = item.preview_url;
  }
}, { rootMargin: PREVIEW_MARGIN });

const privateContents = new Map(); // embedId -> promise of the content the views use
function privateContent(item) {
  if (!privateContents.has(item.embed_id)) {
    privateContents.set(item.embed_id, embedKey(item.embed_id).then((found) =>
      withKey({ embed_id: item.embed_id, encryption_mode: "client", files: null }, found)));
  }
  return privateContents.get(item.embed_id);
}

/** A private image's name comes from its key's encrypted meta (the key is looked up in the
 *  same batched request as the chat's), so the server never learns it. */
async function describePrivate(item, img, button, words) {
  const content = await privateContent(item);
  const name = content.file_name || "Private image";
  img.alt = name;
  words.textContent = name;
  button.setAttribute("aria-label", `${name}, private, ${item.kind}`);
}

async function loadMore() {
  if (loading || cursor === undefined) return loading;
  const mine = generation;
  endLine.textContent = "Loading…";
  loading = api(`/v1/embeds?${query()}`).then((body) => {
    if (mine !== generation) return;
    showStorage(body);
    const fresh = body.items.filter((item) => !items.has(item.embed_id));
    for (const item of fresh) items.set(item.embed_id, item);
    const focusable = !grid.querySelector(".tile[tabindex='0']");
    grid.append(...fresh.map(tile));
    if (focusable) tiles()[0]?.setAttribute("tabindex", "0");
    cursor = body.next_cursor ?? undefined;
    grid.dataset.loaded = String(items.size);
    endLine.textContent = cursor === undefined
      ? (items.size ? `All ${items.size} shown.` : "No images here yet.")
      : "";
    say(errorBox, "");
  }).catch((error) => {
    if (mine === generation) say(errorBox, `Images could not be loaded: ${error.message}`);
  }).finally(() => {
    if (mine === generation) loading = null;
    // A short page on a tall screen leaves the sentinel in view: keep going.
    if (cursor !== undefined && nearEnd()) requestAnimationFrame(loadMore);
  });
  return loading;
}

const sentinel = page.querySelector("[data-testid=gallery-sentinel]");
const nearEnd = () => sentinel.getBoundingClientRect().top < window.innerHeight + 800;
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadMore();
}, { rootMargin: "800px" }).observe(sentinel);

function reset() {
  generation += 1;
  loading = null;
  cursor = null;
  items.clear();
  previews.disconnect();
  grid.replaceChildren();
  clearSelection();
  const params = new URLSearchParams([...new FormData(filters)].filter(([, v]) => v));
  history.replaceState(null, "", params.size ? `/gallery?${params}` : "/gallery");
  return loadMore();
}

// --- filters ---------------------------------------------------------------------------------------
/** The filters the address names, chosen at once (so the first page is asked for without
 *  waiting for the lists of models and chats, which fill the menus when they come). */
function filtersFromAddress() {
  const url = new URLSearchParams(location.search);
  for (const name of ["kind", "model", "chat_id"]) {
    const wanted = url.get(name);
    const select = filters.elements[name];
    if (!wanted) continue;
    if (![...select.options].some((o) => o.value === wanted)) select.append(new Option(wanted, wanted));
    select.value = wanted;
  }
}

function addOptions(select, options) {
  for (const [label, value] of options) {
    const known = [...select.options].find((o) => o.value === value);
    if (known) known.textContent = label; // the address's choice, now with its name
    else select.append(new Option(label, value));
  }
}

function fillFilters() {
  api("/v1/apps/images/models")
    .then((body) => addOptions(filters.elements.model, body.models.map((m) => [m.label, m.id])))
    .catch(() => {});
  api("/v1/chats")
    .then((chats) => addOptions(filters.elements.chat_id, chats.map((c) => [c.title || "Untitled chat", c.chat_id])))
    .catch(() => {});
}
filters.addEventListener("change", () => reset());
filters.addEventListener("submit", (event) => event.preventDefault());

// --- keyboard: one Tab stop, arrows move by one or by a row -----------------------------------------
function columns() {
  const all = tiles();
  if (all.length < 2) return 1;
  const top = all[0].getBoundingClientRect().top;
  const index = all.findIndex((t) => t.getBoundingClientRect().top > top + 1);
  return index < 0 ? all.length : index;
}

function focusTile(target) {
  if (!target) return;
  for (const t of grid.querySelectorAll(".tile[tabindex='0']")) t.tabIndex = -1;
  target.tabIndex = 0;
  target.focus();
  target.scrollIntoView({ block: "nearest" });
}

grid.addEventListener("keydown", (event) => {
  const current = event.target.closest(".tile");
  if (!current) return;
  const all = tiles();
  const index = all.indexOf(current);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
  if (step !== undefined) {
    event.preventDefault();
    focusTile(all[Math.min(all.length - 1, Math.max(0, index + step))]);
    if (index + step >= all.length - columns()) loadMore();
  } else if (event.key === "Home") {
    event.preventDefault();
    focusTile(all[0]);
  } else if (event.key === "End") {
    event.preventDefault();
    focusTile(all[all.length - 1]);
    loadMore();
  } else if (event.key === "Escape" && selecting) {
    setSelecting(false);
  }
});
grid.addEventListener("focusin", (event) => {
  const current = event.target.closest(".tile");
  if (current && current.tabIndex !== 0) focusTile(current);
});

// --- opening and selecting -------------------------------------------------------------------------
grid.addEventListener("click", (event) => {
  const current = event.target.closest(".tile");
  if (!current || current.disabled) return;
  const id = current.dataset.embedId;
  if (!selecting && (event.shiftKey || event.metaKey || event.ctrlKey)) setSelecting(true);
  if (selecting) {
    if (event.shiftKey && anchor && tileOf(anchor)) selectRange(anchor, id);
    else toggle(id);
    anchor = id;
    return;
  }
  openViewer(id);
});

function toggle(id, on = !selected.has(id)) {
  if (on) selected.add(id);
  else selected.delete(id);
  tileOf(id)?.setAttribute("aria-pressed", String(on));
  showSelection();
}

function selectRange(from, to) {
  const ids = tiles().filter((t) => !t.disabled).map((t) => t.dataset.embedId);
  const [a, b] = [ids.indexOf(from), ids.indexOf(to)].sort((x, y) => x - y);
  for (const id of ids.slice(a, b + 1)) toggle(id, true);
}

function showSelection() {
  const count = selected.size;
  selectionCount.textContent = `${count} selected`;
  zipButton.disabled = deleteButton.disabled = count === 0;
}

function clearSelection() {
  for (const id of selected) tileOf(id)?.setAttribute("aria-pressed", "false");
  selected.clear();
  anchor = null;
  showSelection();
}

function setSelecting(on) {
  selecting = on;
  page.classList.toggle("selecting", on);
  selectButton.setAttribute("aria-pressed", String(on));
  selectButton.textContent = on ? "Done" : "Select";
  selectionBar.hidden = !on;
  for (const t of tiles()) {
    if (on) t.setAttribute("aria-pressed", String(selected.has(t.dataset.embedId)));
    else t.removeAttribute("aria-pressed");
  }
  if (!on) clearSelection();
}
selectButton.addEventListener("click", () => setSelecting(!selecting));

function removeTiles(ids) {
  for (const id of ids) {
    const item = tileOf(id)?.closest("li");
    if (item?.contains(document.activeElement)) focusTile(item.nextElementSibling?.querySelector(".tile") || item.previousElementSibling?.querySelector(".tile"));
    item?.remove();
    items.delete(id);
    selected.delete(id);
  }
  if (!grid.querySelector(".tile[tabindex='0']")) tiles()[0]?.setAttribute("tabindex", "0");
  grid.dataset.loaded = String(items.size);
  showSelection();
}

deleteButton.addEventListener("click", async () => {
  const ids = [...selected];
  const answer = await ask({
    title: `Delete ${ids.length} image${ids.length === 1 ? "" : "s"}?`, ok: "Delete", danger: true,
    text: "They are removed from every chat they appear in, with their files. This cannot be undone.",
  });
  if (answer === null) return;
  try {
    const body = await api("/v1/embeds/bulk-delete", { method: "POST", json: { embed_ids: ids } });
    removeTiles(body.deleted);
    showStorage(body);
    say(note, `${body.deleted.length} image${body.deleted.length === 1 ? "" : "s"} deleted.`);
  } catch (error) {
    say(errorBox, `Nothing was deleted: ${error.message}`);
  }
});

zipButton.addEventListener("click", async () => {
  const ids = [...selected];
  const privates = ids.filter((id) => items.get(id)?.encryption_mode === "client").length;
  say(note, "Preparing the ZIP…");
  try {
    // The server streams the archive; the browser gathers it and saves it (a POST cannot be a
    // plain link, and the CSP allows no other origin).
    const response = await fetch("/v1/embeds/download.zip", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ embed_ids: ids }),
    });
    if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error?.message || `failed (${response.status})`);
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: "images.zip" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(note, privates
      ? `ZIP saved. ${privates} private image${privates === 1 ? " is" : "s are"} not in it (only this browser can read ${privates === 1 ? "it" : "them"}): see NOT-INCLUDED.txt, and open ${privates === 1 ? "it" : "them"} here to download.`
      : "ZIP saved.");
  } catch (error) {
    say(errorBox, `The ZIP could not be made: ${error.message}`);
  }
});

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// --- the chat's viewer, over the images loaded so far -----------------------------------------------
configureViewer({
  ids: () => [...items.values()].filter((i) => i.status === "finished").map((i) => i.embed_id),
  actions: {
    copyPrompt: async (content) => {
      try {
        await navigator.clipboard.writeText(content.prompt);
        say(note, "Prompt copied.");
      } catch {
        say(note, `Copy failed; the prompt is: ${content.prompt}`);
      }
    },
    crop: async (embedId, rect) => {
      await api(`/v1/embeds/${embedId}/crop`, { method: "POST", json: rect });
      say(note, "Cropped: the new image is first in the gallery.");
      await reset();
    },
    confirmDelete: () => ask({
      title: "Delete this image?", ok: "Delete", danger: true,
      text: "It is removed from every chat it appears in, with its files. This cannot be undone.",
    }).then((answer) => answer !== null),
    deleteImage: async (content) => {
      try {
        await api(`/v1/embeds/${content.embed_id}`, { method: "DELETE" });
        removeTiles([content.embed_id]);
        say(note, "Image deleted.");
        api(`/v1/embeds?type=image&limit=1`).then(showStorage).catch(() => {});
      } catch (error) {
        say(errorBox, `The image could not be deleted: ${error.message}`);
      }
    },
  },
});

filtersFromAddress();
reset();
fillFilters();
