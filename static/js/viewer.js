// The fullscreen viewer: the full image with its name, type, size and provenance, zoom and pan,
// moving between the chat's images (arrows, swipe), the versions of the image shown (the version
// strip), the keyboard (Esc, focus trap), the image's actions (download, regenerate, report,
// copy or edit the prompt, delete, find similar) and the tool that is open. It owns which image
// and version are shown and which tool is open; each tool (crop.js, draw.js, mask.js,
// compare.js) owns its own state and gets the viewer's context object below.
import { api, embedContent, fileUrl, humanSize } from "./api.js";
import { decryptInto, privateDownloads } from "./hybrid-embeds.js";
import { createCompareTool } from "./compare.js";
import { createCropTool } from "./crop.js";
import { createDrawTool } from "./draw.js";
import { createMaskTool } from "./mask.js";
import { KIND_LABELS, finishedVersions, mayHaveVersions, onLineageChange } from "./versions.js";

const root = document.querySelector("[data-testid=fullscreen]");
const image = root.querySelector(".fs-image");
const stage = root.querySelector(".fs-stage");
const canvasBox = root.querySelector(".fs-canvas");
const overlay = root.querySelector(".fs-overlay");
const cropBox = root.querySelector(".crop-box");
const toolsBar = root.querySelector(".fs-tools");
const info = root.querySelector("[data-testid=fullscreen-info]");
const provenance = root.querySelector("[data-testid=provenance]");
const live = root.querySelector("[data-testid=viewer-status]");
const strip = root.querySelector("[data-testid=version-strip]");
const compareButton = root.querySelector("[data-action=compare]");

let ids = () => [];
let actions = {};
let current = null; // {id, content, anchor, versions, parent}: anchor is the chat's image it stands for
let returnFocus = null;
let zoom = { scale: 1, x: 0, y: 0 };
let tool = null; // the open tool's name

/** What a tool may use of the viewer. */
const view = {
  root, image, overlay, cropBox,
  current: () => current,
  originalScale: () => current.content.files.original.width / image.clientWidth,
  close: closeViewer,
  announce: (text) => { if (live) live.textContent = text; },
  actions: () => actions,
  toggleOn(button, selector) {
    for (const other of root.querySelectorAll(selector)) {
      other.classList.toggle("on", other === button);
      other.setAttribute("aria-pressed", String(other === button));
    }
  },
};
const tools = { crop: createCropTool(view), draw: createDrawTool(view), mark: createMaskTool(view),
                compare: createCompareTool(view) };

/** ``ids()``: the chat's image ids in order; ``actions``: what the viewer's buttons do in the chat. */
export function configureViewer(options) {
  ids = options.ids;
  actions = options.actions;
}

/** Open on ``embedId``; ``anchorId``: the chat's image it is a version of (its card), for the
 * viewer's previous/next. */
export async function openViewer(embedId, anchorId = embedId) {
  returnFocus = returnFocus || document.activeElement;
  root.hidden = false;
  document.body.classList.add("modal-open");
  await show(embedId, anchorId);
  root.querySelector("[data-action=close]").focus();
}

export function closeViewer() {
  setTool(null);
  root.hidden = true;
  document.body.classList.remove("modal-open");
  current = null;
  returnFocus?.focus?.();
  returnFocus = null;
}

async function show(embedId, anchorId = embedId) {
  setTool(null);
  resetZoom();
  const content = await embedContent(embedId);
  current = { id: embedId, content, anchor: anchorId, versions: [], parent: null };
  compareButton.hidden = true; // until this version's parent is known (showVersions)
  if (strip.dataset.rootId !== content.root_id) strip.hidden = true; // another lineage's strip
  root.dataset.currentEmbed = embedId; // for share.js's "Share" button
  const full = content.files.full;
  const original = content.files.original;
  if (content.private) decryptInto(image, content, "full"); // client mode (hybrid-embeds.js)
  else image.src = fileUrl(embedId, "full");
  image.alt = content.prompt || content.file_name || "Image";
  image.width = full.width;
  image.height = full.height;
  const name = content.file_name || content.prompt || "Image";
  info.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = name; // a long prompt ends in an ellipsis (CSS); the whole of it on hover
  title.title = name;
  const meta = document.createElement("span");
  meta.dataset.testid = "fullscreen-meta";
  meta.textContent = `${original.format.toUpperCase()} · ${original.width}×${original.height} · ${humanSize(original.size_bytes)}`;
  info.append(title, meta);
  const stem = fileStem(content, embedId);
  Object.assign(root.querySelector("[data-action=download]"), { href: fileUrl(embedId, "full"), download: `${stem}.webp` });
  Object.assign(root.querySelector("[data-action=download-original]"), {
    href: fileUrl(embedId, "original"), download: `${stem}.${original.format === "jpeg" ? "jpg" : original.format}` });
  if (content.private) privateDownloads(root, content); // decrypted copies, not the ciphertext
  root.querySelector("[data-action=mark]").hidden = false;
  const made = ["generated", "edit"].includes(content.source);
  root.querySelector("[data-action=regenerate]").hidden = !(content.source === "generated" && content.prompt);
  root.querySelector("[data-action=report]").hidden = !made;
  root.querySelector("[data-action=copy-prompt]").hidden = !content.prompt;
  root.querySelector("[data-action=edit-retry]").hidden = !(content.source === "generated" && content.prompt);
  updatePosition();
  showProvenance(embedId);
  current.versionsShown = showVersions(); // not awaited: the viewer is usable before its strip
}

// --- versions: the strip of the lineage's previews, and what Compare compares with ----------------
async function showVersions() {
  const shown = current;
  let versions = [];
  try {
    // An image alone (its count says so, and no lineage of it was read) asks for nothing.
    versions = mayHaveVersions(shown.content) ? await finishedVersions(shown.content) : [];
  } catch {
    versions = []; // the strip stays hidden; the image is there
  }
  if (current !== shown) return;
  const mine = versions.find((version) => version.embed_id === shown.id);
  shown.versions = versions;
  shown.parent = versions.find((version) => version.embed_id === mine?.parent_id) || null;
  compareButton.hidden = !shown.parent;
  const stripWas = strip.hidden;
  strip.hidden = versions.length < 2;
  // The strip takes room from the stage: a tool opened meanwhile fits the image as it is now.
  if (stripWas !== strip.hidden && tool) requestAnimationFrame(refit);
  strip.dataset.rootId = shown.content.root_id || "";
  strip.replaceChildren(...(versions.length < 2 ? [] : versions.map((version, index) => {
    const label = `Version ${index + 1} of ${versions.length}: ${KIND_LABELS[version.version_kind] || version.version_kind}`;
    const thumb = document.createElement("img");
    Object.assign(thumb, { src: fileUrl(version.embed_id, "preview"), alt: "", loading: "lazy", decoding: "async" });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "fs-version";
    button.dataset.testid = "version-thumb";
    button.dataset.version = version.embed_id;
    button.title = label;
    button.setAttribute("aria-label", label);
    if (version.embed_id === shown.id) button.setAttribute("aria-current", "true");
    const number = document.createElement("span");
    number.textContent = String(index + 1);
    button.append(thumb, number);
    return button;
  })));
}

/** ←/→ (Home, End) on the strip move between its versions, showing each; true if handled. */
function stripKey(event) {
  const thumbs = [...strip.querySelectorAll("[data-testid=version-thumb]")];
  const index = thumbs.indexOf(event.target);
  const to = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: thumbs.length - 1 }[event.key];
  if (index < 0 || to === undefined) return false;
  event.preventDefault();
  const next = thumbs[Math.max(0, Math.min(thumbs.length - 1, to))];
  next.click();
  return true;
}

// A version made or finished while the viewer is open joins its strip.
onLineageChange((rootId) => {
  if (!root.hidden && current?.content?.root_id === rootId && !tool) showVersions();
});

function showProvenance(embedId) {
  provenance.textContent = "";
  // A private image's credentials are inside its ciphertext: the server cannot read them.
  (current?.content?.private ? Promise.resolve({ renditions: {} }) : api(`/v1/embeds/${embedId}/provenance`)).then((data) => {
    if (current?.id !== embedId) return;
    const report = data.renditions.full || data.renditions.original;
    if (report && report.state !== "none") {
      const ok = ["Trusted", "Valid"].includes(report.state);
      // "Trusted" against this server's local test root only means "intact": say so.
      const trust = report.trust_anchor === "local_test_root" ? "valid, local test certificate" : report.state;
      provenance.textContent = ok
        ? `Made with AI · ${report.ai_system || "unknown model"} · signed by ${report.signer || report.issuer} (${trust})`
        : `Content credentials: ${report.state}`;
    }
  }).catch((error) => {
    if (current?.id === embedId) provenance.textContent = `Content credentials could not be checked (${error.message}).`;
  });
}

/** A download's name: the uploaded file's own, or a slug of the prompt, never a bare id. */
function fileStem(content, embedId) {
  const named = (content.file_name || "").replace(/\.[a-z0-9]{2,5}$/i, "");
  const words = named || content.prompt || "";
  const slug = words.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
  return slug || `image-${embedId.slice(0, 8)}`;
}

function move(step) {
  const list = ids();
  if (!current || list.length < 2) return;
  const index = list.indexOf(current.anchor);
  show(list[(index + step + list.length) % list.length]);
}

function updatePosition() {
  const list = ids();
  const index = current ? list.indexOf(current.anchor) : -1;
  const several = list.length > 1 && index >= 0;
  for (const button of root.querySelectorAll(".fs-nav")) button.hidden = !several;
  root.querySelector("[data-testid=fullscreen-position]").textContent = several ? `${index + 1} / ${list.length}` : "";
}

// --- tools ---------------------------------------------------------------------------------------
function setTool(name) {
  if (tool) tools[tool].close();
  tool = name;
  toolsBar.hidden = !name;
  for (const panel of root.querySelectorAll(".tool-panel")) panel.hidden = panel.dataset.panel !== name;
  for (const button of root.querySelectorAll("[data-action=crop],[data-action=draw],[data-action=mark],[data-action=compare]")) {
    button.classList.toggle("on", button.dataset.action === name);
    button.setAttribute("aria-pressed", String(button.dataset.action === name));
  }
  overlay.hidden = !(name === "draw" || name === "mark");
  cropBox.hidden = name !== "crop";
  if (name) {
    resetZoom();
    requestAnimationFrame(() => { if (tool === name) tools[name].open(); });
  }
}

function refit() {
  if (tool) tools[tool].refit();
}
window.addEventListener("resize", refit);
image.addEventListener("load", refit); // the tool may open before the full image has loaded

// --- zoom and pan ----------------------------------------------------------------------------------
function applyZoom() {
  canvasBox.style.transform = `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.scale})`;
}
function resetZoom() {
  zoom = { scale: 1, x: 0, y: 0 };
  applyZoom();
}
function zoomBy(factor) {
  zoom.scale = Math.min(8, Math.max(1, zoom.scale * factor));
  if (zoom.scale === 1) zoom.x = zoom.y = 0;
  applyZoom();
}
stage.addEventListener("wheel", (event) => {
  if (tool) return;
  event.preventDefault();
  zoomBy(event.deltaY < 0 ? 1.15 : 1 / 1.15);
}, { passive: false });
// Swipe left/right (touch, pen or a mouse drag) moves between the chat's images when the
// image is not zoomed and no tool is open.
let swipe = null;
stage.addEventListener("pointerdown", (event) => {
  if (tool || zoom.scale !== 1 || event.target.closest("button") || !event.isPrimary) return;
  swipe = { x: event.clientX, y: event.clientY, id: event.pointerId };
  stage.setPointerCapture(event.pointerId);
});
stage.addEventListener("pointermove", (event) => {
  if (!swipe || event.pointerId !== swipe.id) return;
  const dx = event.clientX - swipe.x;
  if (Math.abs(dx) > 8) canvasBox.style.transform = `translateX(${dx * 0.6}px)`;
});
function endSwipe(event) {
  if (!swipe || event.pointerId !== swipe.id) return;
  const dx = event.clientX - swipe.x;
  const dy = event.clientY - swipe.y;
  swipe = null;
  applyZoom();
  if (event.type === "pointerup" && Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) move(dx < 0 ? 1 : -1);
}
// Double-click (double-tap) zooms in, and back out.
stage.addEventListener("dblclick", (event) => {
  if (tool || event.target.closest("button")) return;
  if (zoom.scale > 1) resetZoom();
  else zoomBy(2);
});
stage.addEventListener("pointerup", endSwipe);
stage.addEventListener("pointercancel", endSwipe);

let pan = null;
canvasBox.addEventListener("pointerdown", (event) => {
  if (tool || zoom.scale === 1) return;
  pan = { x: event.clientX - zoom.x, y: event.clientY - zoom.y };
  canvasBox.setPointerCapture(event.pointerId);
});
canvasBox.addEventListener("pointermove", (event) => {
  if (!pan) return;
  zoom.x = event.clientX - pan.x;
  zoom.y = event.clientY - pan.y;
  applyZoom();
});
canvasBox.addEventListener("pointerup", () => { pan = null; });

// --- keyboard: Esc, arrows, zoom keys, undo, focus trap --------------------------------------------
// Handled on the document while the viewer is open, so the keys work wherever focus is (a
// click on the image focuses the viewer itself, which has tabindex -1).
document.addEventListener("keydown", (event) => {
  if (root.hidden || (!root.contains(event.target) && event.target !== document.body)) return;
  if (event.target.matches("input")) {
    if (event.key === "Escape") { event.preventDefault(); root.focus(); }
    else if (event.key === "Enter" && event.target.dataset.testid === "edit-prompt") {
      event.preventDefault();
      tools.mark.send().catch((error) => { provenance.textContent = error.message; });
    }
    return;
  }
  if (event.target === cropBox && tool === "crop" && tools.crop.key(event)) return;
  if (event.target === overlay && tool && tools[tool].key(event)) return;
  if (tool === "compare" && tools.compare.key(event)) return;
  if (event.target.closest?.("[data-testid=version-strip]") && stripKey(event)) return;
  const undoable = tool === "draw" || tool === "mark";
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && undoable && (key === "z" || key === "y")) {
    event.preventDefault();
    key === "y" || event.shiftKey ? tools[tool].redo() : tools[tool].undo();
    return;
  }
  if (event.key === "Escape") { event.preventDefault(); tool ? setTool(null) : closeViewer(); }
  else if (event.key === "ArrowRight" && !tool) move(1);
  else if (event.key === "ArrowLeft" && !tool) move(-1);
  else if (event.key === "+" || event.key === "=") zoomBy(1.25);
  else if (event.key === "-") zoomBy(0.8);
  else if (event.key === "0") resetZoom();
  else if (event.key === "Tab") trapFocus(event);
});

function trapFocus(event) {
  const focusable = [...root.querySelectorAll("button, a[href], input, [tabindex='0']")]
    .filter((n) => n.offsetParent !== null || n === overlay && !overlay.hidden);
  if (document.activeElement === root || !root.contains(document.activeElement)) {
    event.preventDefault();
    (event.shiftKey ? focusable[focusable.length - 1] : focusable[0])?.focus();
    return;
  }
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
  else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
}

// --- buttons ---------------------------------------------------------------------------------------
root.addEventListener("click", async (event) => {
  const target = event.target.closest("button, a");
  if (!target) return;
  const action = target.dataset.action;
  try {
    if (action === "close") closeViewer();
    else if (action === "prev") move(-1);
    else if (action === "next") move(1);
    else if (action === "zoom-in") zoomBy(1.25);
    else if (action === "zoom-out") zoomBy(0.8);
    else if (action === "zoom-reset") resetZoom();
    else if (action in tools) setTool(tool === action ? null : action);
    else if (target.dataset.version) {
      if (target.dataset.version !== current.id) {
        await show(target.dataset.version, current.anchor);
        await current.versionsShown; // the strip is redrawn for it: focus the new thumbnail
      }
      strip.querySelector(`[data-version="${CSS.escape(target.dataset.version)}"]`)?.focus();
    }
    else if ((action === "undo" || action === "redo") && tool) tools[tool][action]();
    else if (action === "find-similar") { const id = current.id; closeViewer(); await actions.findSimilar(id); }
    else if (action === "more") {
      const open = root.querySelector(".fs-manage").classList.toggle("open");
      target.setAttribute("aria-expanded", String(open));
    }
    else if (action === "copy-prompt") await actions.copyPrompt(current.content);
    else if (action === "report") { if (await actions.report(current.content)) closeViewer(); }
    else if (["regenerate", "edit-retry", "delete"].includes(action)) {
      const content = current.content;
      const versions = current.versions;
      const scope = action === "delete" ? await actions.confirmDelete(content, versions) : null;
      if (action === "delete" && !scope) return;
      closeViewer();
      if (action === "delete") await actions.deleteImage(content, scope, versions);
      else await { regenerate: actions.regenerate, "edit-retry": actions.editPrompt }[action](content);
    }
    else if (tool) await tools[tool].click(target);
  } catch (error) {
    provenance.textContent = error.message;
  }
});
