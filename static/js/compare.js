// The viewer's Compare tool: the version shown against the one it was made from (its parent in
// the lineage). A before/after slider (drag anywhere on the image, or ←/→ on the slider, Home and
// End), or both side by side on a wide screen; for a masked edit, the mask outlined over the
// result. It owns its mode, the slider's value and the outline; the viewer says which version
// and which parent are shown (``view.current()``).
import { fileUrl } from "./api.js";
import { KIND_LABELS } from "./versions.js";

const STEP = 5; // percent per arrow key (Shift: 20)
const OUTLINE = [255, 204, 0, 255]; // the mask's edge, yellow: visible on light and dark images

/** ``view``: the viewer's context (elements, the image shown, close, announce, actions). */
export function createCompareTool(view) {
  const { root, image } = view;
  const canvasBox = root.querySelector(".fs-canvas");
  const before = root.querySelector("[data-testid=compare-before]");
  const sideBox = root.querySelector("[data-testid=compare-side-before]");
  const sideImage = sideBox.querySelector("img");
  const handle = root.querySelector("[data-testid=compare-slider]");
  const outline = root.querySelector("[data-testid=mask-outline]");
  const maskButton = root.querySelector("[data-testid=compare-mask]");
  const what = root.querySelector("[data-testid=compare-what]");
  const wide = matchMedia("(min-width: 900px)");
  let mode = "slider";
  let value = 50;
  let drag = null;
  let maskOn = false;
  let opened = false;
  let maskFor = null; // the embed whose mask is drawn (a bitmap, kept while the tool is open)

  function set(next) {
    value = Math.max(0, Math.min(100, Math.round(next)));
    before.style.clipPath = `inset(0 ${100 - value}% 0 0)`;
    handle.style.left = `${value}%`;
    handle.setAttribute("aria-valuenow", String(value));
    handle.setAttribute("aria-valuetext", `${value}% before, ${100 - value}% after`);
  }

  function sideBySide() {
    return mode === "side" && wide.matches;
  }

  function layout() {
    const side = sideBySide();
    canvasBox.classList.toggle("comparing", opened);
    canvasBox.classList.toggle("comparing-side", opened && side);
    sideBox.hidden = !opened || !side;
    before.hidden = handle.hidden = !opened || side;
    outline.hidden = !opened || !maskOn;
    if (opened && maskOn) drawMask();
  }
  wide.addEventListener("change", () => { if (opened) layout(); });

  async function maskBitmap(embedId) {
    if (maskFor?.id === embedId) return maskFor.bitmap;
    const response = await fetch(fileUrl(embedId, "mask"), { credentials: "same-origin" });
    if (!response.ok) return null; // not a masked edit: nothing to outline
    const bitmap = await createImageBitmap(await response.blob());
    maskFor = { id: embedId, bitmap };
    return bitmap;
  }

  /** The mask's edge (white = changed) traced at the size the image is shown. */
  async function drawMask() {
    const { id } = view.current();
    const bitmap = await maskBitmap(id);
    if (!opened || view.current()?.id !== id) return;
    if (!bitmap) {
      maskOn = false;
      maskButton.hidden = true;
      outline.hidden = true;
      view.announce("This edit was made without a mask.");
      return;
    }
    const w = Math.max(1, Math.round(image.clientWidth));
    const h = Math.max(1, Math.round(image.clientHeight));
    outline.width = w;
    outline.height = h;
    Object.assign(outline.style, { width: `${w}px`, height: `${h}px`, left: `${image.offsetLeft}px`,
                                   top: `${image.offsetTop}px` }); // over the result, in either mode
    const ctx = outline.getContext("2d", { willReadFrequently: true });
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(bitmap, 0, 0, w, h);
    const pixels = ctx.getImageData(0, 0, w, h).data;
    const inside = (x, y) => x >= 0 && y >= 0 && x < w && y < h && pixels[(y * w + x) * 4] > 127;
    const edge = ctx.createImageData(w, h);
    for (let y = 0; y < h; y += 1) {
      for (let x = 0; x < w; x += 1) {
        if (!inside(x, y)) continue;
        if (inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1)
            && inside(x - 2, y) && inside(x + 2, y) && inside(x, y - 2) && inside(x, y + 2)) continue;
        edge.data.set(OUTLINE, (y * w + x) * 4);
      }
    }
    ctx.putImageData(edge, 0, 0);
    outline.dataset.drawn = id;
  }

  function fromPointer(event) {
    const box = image.getBoundingClientRect();
    set(((event.clientX - box.left) / box.width) * 100);
  }
  canvasBox.addEventListener("pointerdown", (event) => {
    if (!opened || sideBySide() || !event.isPrimary) return;
    event.preventDefault();
    drag = event.pointerId;
    canvasBox.setPointerCapture(event.pointerId);
    fromPointer(event);
    handle.focus({ preventScroll: true });
  });
  canvasBox.addEventListener("pointermove", (event) => { if (drag === event.pointerId) fromPointer(event); });
  const end = (event) => { if (drag === event.pointerId) drag = null; };
  canvasBox.addEventListener("pointerup", end);
  canvasBox.addEventListener("pointercancel", end);

  return {
    open() {
      const { content, parent, versions } = view.current();
      if (!parent) return view.announce("This version was not made from another one.");
      opened = true;
      maskOn = false;
      maskButton.setAttribute("aria-pressed", "false");
      maskButton.hidden = content.version_kind !== "edited";
      const url = fileUrl(parent.embed_id, "full");
      before.src = url;
      sideImage.src = url;
      before.alt = sideImage.alt = "Before: the version it was made from";
      const number = versions.findIndex((v) => v.embed_id === parent.embed_id) + 1;
      what.textContent = `${KIND_LABELS[content.version_kind] || "Version"} · compared with version ${number}`;
      set(50);
      layout();
      if (!sideBySide()) handle.focus({ preventScroll: true });
      view.announce("Comparing with the version it was made from.");
    },
    close() {
      opened = false;
      maskOn = false;
      maskFor = null;
      drag = null;
      delete outline.dataset.drawn;
      layout();
      before.removeAttribute("src");
      sideImage.removeAttribute("src");
    },
    refit() { if (opened && maskOn) drawMask(); },
    /** A key on the slider: true if handled. */
    key(event) {
      if (event.target !== handle) return false;
      const step = event.shiftKey ? 20 : STEP;
      const to = { ArrowLeft: value - step, ArrowDown: value - step, ArrowRight: value + step, ArrowUp: value + step,
                   Home: 0, End: 100, PageDown: value - 20, PageUp: value + 20 }[event.key];
      if (to === undefined) return false;
      event.preventDefault();
      set(to);
      return true;
    },
    undo() {},
    redo() {},
    /** A click inside the viewer: true if it was one of this tool's buttons. */
    async click(target) {
      if (target.dataset.compare) {
        mode = target.dataset.compare;
        view.toggleOn(target, "[data-compare]");
        layout();
      } else if (target.dataset.action === "compare-mask") {
        maskOn = !maskOn;
        target.setAttribute("aria-pressed", String(maskOn));
        target.classList.toggle("on", maskOn);
        layout();
      } else return false;
      return true;
    },
  };
}
