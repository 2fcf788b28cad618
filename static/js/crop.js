// The viewer's Crop tool: a box over the image (free or locked to 1:1, 4:3, 16:9) moved and
// resized by pointer or keyboard; Apply sends the rectangle, in the original's pixels, to the
// chat's crop skill (the server makes a new image from the original's own pixels).

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/** ``view``: the viewer's context (elements, the image shown, close, announce, actions). */
export function createCropTool(view) {
  const { cropBox, image, root } = view;
  let ratio = null; // width / height, or null for free
  let box = null; // {x, y, w, h} on screen while the tool is open
  let drag = null;

  function init() {
    const w = image.clientWidth;
    const h = image.clientHeight;
    box = { x: w * 0.1, y: h * 0.1, w: w * 0.8, h: h * 0.8 };
    if (ratio) fitRatio();
    place();
  }
  function fitRatio() {
    const h = box.w / ratio;
    if (h <= image.clientHeight - box.y) box.h = h;
    else { box.h = image.clientHeight - box.y; box.w = box.h * ratio; }
  }
  function place() {
    Object.assign(cropBox.style, { left: `${box.x}px`, top: `${box.y}px`, width: `${box.w}px`, height: `${box.h}px` });
  }

  /** Resize with the aspect locked: the corner opposite the handle stays put, the box follows the
   * larger of the two drags and shrinks as a whole (never one side alone) at the image's edges. */
  function lockedResize(handle, o, dx, dy, W, H) {
    const west = handle.includes("w");
    const north = handle.includes("n");
    const growW = west ? -dx : dx;
    const growH = north ? -dy : dy;
    let w = Math.abs(growW) >= Math.abs(growH * ratio) ? o.w + growW : (o.h + growH) * ratio;
    const roomW = west ? o.x + o.w : W - o.x;
    const roomH = north ? o.y + o.h : H - o.y;
    w = Math.max(10, Math.min(w, roomW, roomH * ratio));
    const h = w / ratio;
    return { w, h, x: west ? o.x + o.w - w : o.x, y: north ? o.y + o.h - h : o.y };
  }

  cropBox.addEventListener("pointerdown", (event) => {
    if (!box) return;
    cropBox.setPointerCapture(event.pointerId);
    drag = { handle: event.target.classList.contains("h") ? [...event.target.classList][1] : "move",
             start: { x: event.clientX, y: event.clientY }, orig: { ...box } };
  });
  cropBox.addEventListener("pointermove", (event) => {
    if (!drag || !box) return;
    const dx = event.clientX - drag.start.x;
    const dy = event.clientY - drag.start.y;
    const o = drag.orig;
    const W = image.clientWidth;
    const H = image.clientHeight;
    const next = { ...o };
    if (drag.handle === "move") {
      next.x = Math.min(Math.max(0, o.x + dx), W - o.w);
      next.y = Math.min(Math.max(0, o.y + dy), H - o.h);
    } else if (ratio) {
      Object.assign(next, lockedResize(drag.handle, o, dx, dy, W, H));
    } else {
      if (drag.handle.includes("w")) { next.x = Math.min(Math.max(0, o.x + dx), o.x + o.w - 10); next.w = o.x + o.w - next.x; }
      if (drag.handle.includes("e")) next.w = Math.min(Math.max(10, o.w + dx), W - o.x);
      if (drag.handle.includes("n")) { next.y = Math.min(Math.max(0, o.y + dy), o.y + o.h - 10); next.h = o.y + o.h - next.y; }
      if (drag.handle.includes("s")) next.h = Math.min(Math.max(10, o.h + dy), H - o.y);
    }
    box = next;
    place();
  });
  cropBox.addEventListener("pointerup", () => { drag = null; });

  /** Arrows move the box, Shift+arrows resize it (the aspect lock holds), Alt for fine steps. */
  function key(event) {
    const step = ARROWS[event.key];
    if (!step || !box) return false;
    event.preventDefault();
    const d = event.altKey ? 1 : 10;
    const W = image.clientWidth;
    const H = image.clientHeight;
    if (event.shiftKey) {
      const o = { ...box };
      if (ratio) Object.assign(box, lockedResize("se", o, step[0] * d, step[1] * d, W, H));
      else {
        box.w = Math.max(10, Math.min(o.w + step[0] * d, W - o.x));
        box.h = Math.max(10, Math.min(o.h + step[1] * d, H - o.y));
      }
    } else {
      box.x = Math.min(Math.max(0, box.x + step[0] * d), W - box.w);
      box.y = Math.min(Math.max(0, box.y + step[1] * d), H - box.h);
    }
    place();
    view.announce(`Crop ${Math.round(box.w * view.originalScale())} × ${Math.round(box.h * view.originalScale())}`);
    return true;
  }

  /** The box in the original's pixels, exact to the aspect lock there (not just on screen). */
  function originalRect() {
    const s = view.originalScale();
    const original = view.current().content.files.original;
    const rect = {
      x: Math.max(0, Math.round(box.x * s)), y: Math.max(0, Math.round(box.y * s)),
      width: Math.round(box.w * s), height: Math.round(box.h * s),
    };
    rect.width = Math.max(1, Math.min(rect.width, original.width - rect.x));
    rect.height = Math.max(1, Math.min(rect.height, original.height - rect.y));
    if (ratio) {
      rect.height = Math.round(rect.width / ratio);
      if (rect.y + rect.height > original.height) {
        rect.height = original.height - rect.y;
        rect.width = Math.round(rect.height * ratio);
      }
    }
    return rect;
  }

  async function apply() {
    const rect = originalRect();
    const label = (root.querySelector("[data-crop-ratio].on")?.textContent || "Free").toLowerCase();
    const embedId = view.current().id;
    view.close();
    await view.actions().crop(embedId, rect, label);
  }

  return {
    open: init,
    close() { box = null; drag = null; },
    refit: init,
    key,
    /** A click inside the viewer: true if it was one of this tool's buttons. */
    async click(target) {
      if (target.dataset.action === "crop-apply") await apply();
      else if (target.dataset.cropRatio) {
        ratio = target.dataset.cropRatio === "free" ? null : Number(target.dataset.cropRatio);
        view.toggleOn(target, "[data-crop-ratio]");
        if (ratio && box) { fitRatio(); place(); }
      } else return false;
      return true;
    },
  };
}
