// Fullscreen viewer: full format, info, zoom/pan, keyboard, provenance; and the three tools
// that work on the image: crop (server-side, original pixels), draw (+ "Ask about this") and
// mark-to-edit (a mask at the original's size for POST /v1/apps/images/edit).
import { regionFromShapes } from "./analysis.js";
import { api, embedContent, fileUrl, humanSize } from "./api.js";
import { decryptInto, privateDownloads } from "./hybrid-embeds.js";

const root = document.querySelector("[data-testid=fullscreen]");
const image = root.querySelector(".fs-image");
const stage = root.querySelector(".fs-stage");
const canvasBox = root.querySelector(".fs-canvas");
const overlay = root.querySelector(".fs-overlay");
const cropBox = root.querySelector(".crop-box");
const toolsBar = root.querySelector(".fs-tools");
const info = root.querySelector("[data-testid=fullscreen-info]");
const provenance = root.querySelector("[data-testid=provenance]");

let ids = () => [];
let actions = {};
let current = null; // {id, content}
let returnFocus = null;
let zoom = { scale: 1, x: 0, y: 0 };
let tool = null;
let shapes = [];
let redo = [];
let drawing = null;
let shape = "rect";
let color = "#ff3b30";
let markMode = "brush";
let cropRatio = null;
let crop = null;

export function configureViewer(options) {
  ids = options.ids;
  actions = options.actions;
}

export async function openViewer(embedId) {
  returnFocus = returnFocus || document.activeElement;
  root.hidden = false;
  document.body.classList.add("modal-open");
  await show(embedId);
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

async function show(embedId) {
  setTool(null);
  resetZoom();
  const content = await embedContent(embedId);
  current = { id: embedId, content };
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
  provenance.textContent = "";
  // A private image's credentials are inside its ciphertext: the server cannot read them.
  (content.private ? Promise.resolve({ renditions: {} }) : api(`/v1/embeds/${embedId}/provenance`)).then((data) => {
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
  const index = list.indexOf(current.id);
  show(list[(index + step + list.length) % list.length]);
}

function updatePosition() {
  const list = ids();
  const index = current ? list.indexOf(current.id) : -1;
  const several = list.length > 1 && index >= 0;
  for (const button of root.querySelectorAll(".fs-nav")) button.hidden = !several;
  root.querySelector("[data-testid=fullscreen-position]").textContent = several ? `${index + 1} / ${list.length}` : "";
}

// --- zoom and pan -----------------------------------------------------------------------------
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
  swipe = { x: event.clientX, y: event.clientY, at: Date.now(), id: event.pointerId };
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

// --- keyboard: Esc, arrows, zoom keys, focus trap ----------------------------------------------
// Handled on the document while the viewer is open, so the keys work wherever focus is (a
// click on the image focuses the viewer itself, which has tabindex -1).
document.addEventListener("keydown", (event) => {
  if (root.hidden || (!root.contains(event.target) && event.target !== document.body)) return;
  if (event.target.matches("input")) {
    if (event.key === "Escape") { event.preventDefault(); root.focus(); }
    else if (event.key === "Enter" && event.target.dataset.testid === "edit-prompt") {
      event.preventDefault();
      sendEdit().catch((error) => { provenance.textContent = error.message; });
    }
    return;
  }
  if (event.target === cropBox && cropKey(event)) return;
  if (event.target === overlay && drawKey(event)) return;
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && (tool === "draw" || tool === "mark")) {
    event.preventDefault();
    event.shiftKey ? redoShape() : undoShape();
    return;
  }
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "y" && (tool === "draw" || tool === "mark")) {
    event.preventDefault();
    redoShape();
    return;
  }
  if (event.key === "Escape") { event.preventDefault(); tool ? setTool(null) : closeViewer(); }
  else if (event.key === "ArrowRight" && !tool) move(1);
  else if (event.key === "ArrowLeft" && !tool) move(-1);
  else if (event.key === "+" || event.key === "=") zoomBy(1.25);
  else if (event.key === "-") zoomBy(0.8);
  else if (event.key === "0") resetZoom();
  else if (event.key === "Tab") {
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
});

// --- tools -------------------------------------------------------------------------------------
function setTool(name) {
  tool = name;
  shapes = [];
  redo = [];
  toolsBar.hidden = !name;
  for (const panel of root.querySelectorAll(".tool-panel")) panel.hidden = panel.dataset.panel !== name;
  keyShape = null;
  for (const button of root.querySelectorAll("[data-action=crop],[data-action=draw],[data-action=mark]")) {
    button.classList.toggle("on", button.dataset.action === name);
    button.setAttribute("aria-pressed", String(button.dataset.action === name));
  }
  overlay.hidden = !(name === "draw" || name === "mark");
  cropBox.hidden = name !== "crop";
  if (name) {
    resetZoom();
    requestAnimationFrame(() => {
      sizeOverlay();
      if (name === "crop") initCrop();
      redraw();
    });
  }
}

function sizeOverlay() {
  overlay.width = image.clientWidth;
  overlay.height = image.clientHeight;
  overlay.style.width = `${image.clientWidth}px`;
  overlay.style.height = `${image.clientHeight}px`;
}

function localPoint(event) {
  const rect = image.getBoundingClientRect();
  return { x: event.clientX - rect.left, y: event.clientY - rect.top };
}

function paint(ctx, list, scale, { mask = false } = {}) {
  for (const item of list) {
    ctx.strokeStyle = mask ? "#fff" : item.color;
    ctx.fillStyle = "#fff";
    ctx.lineWidth = (item.kind === "brush" ? item.size : 4) * scale;
    ctx.lineCap = ctx.lineJoin = "round";
    const [a, b] = [item.from, item.to];
    ctx.beginPath();
    if (item.kind === "rect" || item.kind === "box") {
      if (mask || item.kind === "box") {
        ctx.globalAlpha = mask ? 1 : 0.45;
        ctx.fillStyle = mask ? "#fff" : "#ff3b30";
        ctx.fillRect(Math.min(a.x, b.x) * scale, Math.min(a.y, b.y) * scale, Math.abs(b.x - a.x) * scale, Math.abs(b.y - a.y) * scale);
        ctx.globalAlpha = 1;
      } else {
        ctx.strokeRect(a.x * scale, a.y * scale, (b.x - a.x) * scale, (b.y - a.y) * scale);
      }
    } else if (item.kind === "ellipse") {
      ctx.ellipse((a.x + b.x) / 2 * scale, (a.y + b.y) / 2 * scale, Math.abs(b.x - a.x) / 2 * scale,
                  Math.abs(b.y - a.y) / 2 * scale, 0, 0, Math.PI * 2);
      ctx.stroke();
    } else if (item.kind === "arrow") {
      const angle = Math.atan2(b.y - a.y, b.x - a.x);
      const head = 16 * scale;
      ctx.moveTo(a.x * scale, a.y * scale);
      ctx.lineTo(b.x * scale, b.y * scale);
      ctx.lineTo(b.x * scale - head * Math.cos(angle - 0.4), b.y * scale - head * Math.sin(angle - 0.4));
      ctx.moveTo(b.x * scale, b.y * scale);
      ctx.lineTo(b.x * scale - head * Math.cos(angle + 0.4), b.y * scale - head * Math.sin(angle + 0.4));
      ctx.stroke();
    } else {
      if (!mask && item.kind === "brush") { ctx.strokeStyle = "rgba(255,59,48,0.5)"; }
      item.points.forEach((p, i) => (i ? ctx.lineTo(p.x * scale, p.y * scale) : ctx.moveTo(p.x * scale, p.y * scale)));
      ctx.stroke();
    }
  }
}

function redraw() {
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  paint(ctx, drawing ? [...shapes, drawing] : shapes, 1);
  if (keyShape && document.activeElement === overlay) {
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(keyShape.x, keyShape.y, keyShape.w, keyShape.h);
    ctx.strokeStyle = "#000";
    ctx.lineDashOffset = 5;
    ctx.strokeRect(keyShape.x, keyShape.y, keyShape.w, keyShape.h);
    ctx.restore();
  }
}
overlay.addEventListener("focus", () => {
  if (!keyShape) { const W = image.clientWidth, H = image.clientHeight; keyShape = { x: W * 0.35, y: H * 0.35, w: W * 0.3, h: H * 0.3 }; }
  redraw();
});
overlay.addEventListener("blur", () => redraw());

overlay.addEventListener("pointerdown", (event) => {
  const point = localPoint(event);
  overlay.setPointerCapture(event.pointerId);
  const kind = tool === "mark" ? markMode : shape;
  drawing = { kind, color, from: point, to: point, points: [point], size: Math.max(12, image.clientWidth / 25) };
});
overlay.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const point = localPoint(event);
  drawing.to = point;
  drawing.points.push(point);
  redraw();
});
overlay.addEventListener("pointerup", () => {
  if (!drawing) return;
  shapes.push(drawing);
  redo = [];
  drawing = null;
  redraw();
});

function initCrop() {
  const w = image.clientWidth;
  const h = image.clientHeight;
  crop = { x: w * 0.1, y: h * 0.1, w: w * 0.8, h: h * 0.8 };
  if (cropRatio) fitRatio();
  placeCrop();
}
function fitRatio() {
  const h = crop.w / cropRatio;
  if (h <= image.clientHeight - crop.y) crop.h = h;
  else { crop.h = image.clientHeight - crop.y; crop.w = crop.h * cropRatio; }
}
function placeCrop() {
  Object.assign(cropBox.style, { left: `${crop.x}px`, top: `${crop.y}px`, width: `${crop.w}px`, height: `${crop.h}px` });
}
let cropDrag = null;
cropBox.addEventListener("pointerdown", (event) => {
  cropBox.setPointerCapture(event.pointerId);
  cropDrag = { handle: event.target.classList.contains("h") ? [...event.target.classList][1] : "move",
               start: { x: event.clientX, y: event.clientY }, orig: { ...crop } };
});
cropBox.addEventListener("pointermove", (event) => {
  if (!cropDrag) return;
  const dx = event.clientX - cropDrag.start.x;
  const dy = event.clientY - cropDrag.start.y;
  const o = cropDrag.orig;
  const W = image.clientWidth;
  const H = image.clientHeight;
  const next = { ...o };
  if (cropDrag.handle === "move") {
    next.x = Math.min(Math.max(0, o.x + dx), W - o.w);
    next.y = Math.min(Math.max(0, o.y + dy), H - o.h);
  } else if (cropRatio) {
    Object.assign(next, lockedResize(cropDrag.handle, o, dx, dy, W, H));
  } else {
    if (cropDrag.handle.includes("w")) { next.x = Math.min(Math.max(0, o.x + dx), o.x + o.w - 10); next.w = o.x + o.w - next.x; }
    if (cropDrag.handle.includes("e")) next.w = Math.min(Math.max(10, o.w + dx), W - o.x);
    if (cropDrag.handle.includes("n")) { next.y = Math.min(Math.max(0, o.y + dy), o.y + o.h - 10); next.h = o.y + o.h - next.y; }
    if (cropDrag.handle.includes("s")) next.h = Math.min(Math.max(10, o.h + dy), H - o.y);
  }
  crop = next;
  placeCrop();
});

/** Resize with the aspect locked: the corner opposite the handle stays put, the box follows the
 * larger of the two drags and shrinks as a whole (never one side alone) at the image's edges. */
function lockedResize(handle, o, dx, dy, W, H) {
  const west = handle.includes("w");
  const north = handle.includes("n");
  const growW = west ? -dx : dx;
  const growH = north ? -dy : dy;
  let w = Math.abs(growW) >= Math.abs(growH * cropRatio) ? o.w + growW : (o.h + growH) * cropRatio;
  const roomW = west ? o.x + o.w : W - o.x;
  const roomH = north ? o.y + o.h : H - o.y;
  w = Math.max(10, Math.min(w, roomW, roomH * cropRatio));
  const h = w / cropRatio;
  return { w, h, x: west ? o.x + o.w - w : o.x, y: north ? o.y + o.h - h : o.y };
}
cropBox.addEventListener("pointerup", () => { cropDrag = null; });

function originalScale() {
  return current.content.files.original.width / image.clientWidth;
}

async function applyCrop() {
  const s = originalScale();
  const original = current.content.files.original;
  const rect = {
    x: Math.max(0, Math.round(crop.x * s)), y: Math.max(0, Math.round(crop.y * s)),
    width: Math.round(crop.w * s), height: Math.round(crop.h * s),
  };
  rect.width = Math.max(1, Math.min(rect.width, original.width - rect.x));
  rect.height = Math.max(1, Math.min(rect.height, original.height - rect.y));
  if (cropRatio) {  // exact in the original's pixels, not just on screen
    rect.height = Math.round(rect.width / cropRatio);
    if (rect.y + rect.height > original.height) {
      rect.height = original.height - rect.y;
      rect.width = Math.round(rect.height * cropRatio);
    }
  }
  const result = await api(`/v1/embeds/${current.id}/crop`, { method: "POST", json: rect });
  const ratio = root.querySelector("[data-crop-ratio].on")?.textContent || "Free";
  closeViewer();
  await actions.addEmbedMessage(result.embed_id, `Crop (${ratio === "Free" ? "free" : ratio})`);
}

async function flatten({ mask = false } = {}) {
  const original = current.content.files.original;
  const canvas = document.createElement("canvas");
  canvas.width = original.width;
  canvas.height = original.height;
  const ctx = canvas.getContext("2d");
  if (mask) {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  } else {
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  }
  paint(ctx, shapes, canvas.width / image.clientWidth, { mask });
  return canvas;
}

async function ask() {
  const canvas = await flatten();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const drawnOn = current.id;  // sent along, so a drawing over an AI image stays labelled AI-made
  const region = regionFromShapes(shapes, originalScale()); // what the question is about
  closeViewer();
  await actions.attachBlob(blob, "annotated.png", drawnOn, region);
}

async function sendEdit() {
  const input = root.querySelector("[data-testid=edit-prompt]");
  const prompt = input.value.trim();
  if (!prompt) { input.focus(); input.placeholder = "Type what should change first"; return; }
  if (!shapes.length) { input.placeholder = "Mark an area on the image first"; return; }
  const mask = (await flatten({ mask: true })).toDataURL("image/png");
  const embedId = current.id;
  closeViewer();
  input.value = "";
  await actions.edit(embedId, prompt, mask);
}

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
    else if (["crop", "draw", "mark"].includes(action)) setTool(tool === action ? null : action);
    else if (action === "crop-apply") await applyCrop();
    else if (action === "undo") undoShape();
    else if (action === "redo") redoShape();
    else if (action === "ask") await ask();
    else if (action === "edit-send") await sendEdit();
    else if (action === "find-similar") { const id = current.id; closeViewer(); await actions.findSimilar(id); }
    else if (action === "more") {
      const open = root.querySelector(".fs-manage").classList.toggle("open");
      target.setAttribute("aria-expanded", String(open));
    }
    else if (action === "copy-prompt") await actions.copyPrompt(current.content);
    else if (action === "report") { if (await actions.report(current.content)) closeViewer(); }
    else if (["regenerate", "edit-retry", "delete"].includes(action)) {
      const content = current.content;
      if (action === "delete" && !(await actions.confirmDelete(content))) return;
      closeViewer();
      await { regenerate: actions.regenerate, "edit-retry": actions.editPrompt, delete: actions.deleteImage }[action](content);
    }
    else if (target.dataset.shape) { shape = target.dataset.shape; toggleOn(target, "[data-shape]"); }
    else if (target.dataset.color) { color = target.dataset.color; toggleOn(target, "[data-color]"); }
    else if (target.dataset.mark) { markMode = target.dataset.mark; toggleOn(target, "[data-mark]"); }
    else if (target.dataset.cropRatio) {
      cropRatio = target.dataset.cropRatio === "free" ? null : Number(target.dataset.cropRatio);
      toggleOn(target, "[data-crop-ratio]");
      if (cropRatio) { fitRatio(); placeCrop(); }
    }
  } catch (error) {
    provenance.textContent = error.message;
  }
});

function toggleOn(button, selector) {
  for (const other of root.querySelectorAll(selector)) {
    other.classList.toggle("on", other === button);
    other.setAttribute("aria-pressed", String(other === button));
  }
}

function undoShape() {
  if (!shapes.length) return;
  redo.push(shapes.pop());
  redraw();
}
function redoShape() {
  if (!redo.length) return;
  shapes.push(redo.pop());
  redraw();
}

// --- the tools by keyboard ------------------------------------------------------------------
// Crop: arrows move the box, Shift+arrows resize it (the aspect lock holds). Draw and mark: a
// keyboard shape (dashed) that arrows move and Shift+arrows resize; Enter draws it.
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
function cropKey(event) {
  const step = ARROWS[event.key];
  if (!step || !crop) return false;
  event.preventDefault();
  const d = event.altKey ? 1 : 10;
  const W = image.clientWidth;
  const H = image.clientHeight;
  if (event.shiftKey) {
    const o = { ...crop };
    if (cropRatio) Object.assign(crop, lockedResize("se", o, step[0] * d, step[1] * d, W, H));
    else {
      crop.w = Math.max(10, Math.min(o.w + step[0] * d, W - o.x));
      crop.h = Math.max(10, Math.min(o.h + step[1] * d, H - o.y));
    }
  } else {
    crop.x = Math.min(Math.max(0, crop.x + step[0] * d), W - crop.w);
    crop.y = Math.min(Math.max(0, crop.y + step[1] * d), H - crop.h);
  }
  placeCrop();
  announce(`Crop ${Math.round(crop.w * originalScale())} × ${Math.round(crop.h * originalScale())}`);
  return true;
}

let keyShape = null; // {x, y, w, h} on screen
function drawKey(event) {
  const W = image.clientWidth;
  const H = image.clientHeight;
  if (!keyShape) keyShape = { x: W * 0.35, y: H * 0.35, w: W * 0.3, h: H * 0.3 };
  const step = ARROWS[event.key];
  const d = event.altKey ? 2 : 12;
  if (step) {
    event.preventDefault();
    if (event.shiftKey) {
      keyShape.w = Math.max(8, Math.min(keyShape.w + step[0] * d, W - keyShape.x));
      keyShape.h = Math.max(8, Math.min(keyShape.h + step[1] * d, H - keyShape.y));
    } else {
      keyShape.x = Math.min(Math.max(0, keyShape.x + step[0] * d), W - keyShape.w);
      keyShape.y = Math.min(Math.max(0, keyShape.y + step[1] * d), H - keyShape.h);
    }
    redraw();
    return true;
  }
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    const from = { x: keyShape.x, y: keyShape.y };
    const to = { x: keyShape.x + keyShape.w, y: keyShape.y + keyShape.h };
    let kind = tool === "mark" ? "box" : shape;
    let points = [from, to];
    if (kind === "free") {  // a freehand stroke by keyboard: around the shape's outline
      kind = "free";
      points = [from, { x: to.x, y: from.y }, to, { x: from.x, y: to.y }, from];
    }
    shapes.push({ kind, color, from, to, points, size: Math.max(12, W / 25) });
    redo = [];
    redraw();
    announce(`${tool === "mark" ? "Area marked" : "Shape drawn"} (${shapes.length})`);
    return true;
  }
  return false;
}

const live = root.querySelector("[data-testid=viewer-status]");
function announce(text) {
  if (live) live.textContent = text;
}

function refit() {
  if (!tool) return;
  sizeOverlay();
  redraw();
  if (tool === "crop") initCrop();
}
window.addEventListener("resize", refit);
image.addEventListener("load", refit); // the tool may open before the full image has loaded
