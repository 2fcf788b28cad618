// A layer of shapes drawn over the viewer's image, on its overlay canvas: pointer and keyboard
// drawing, undo/redo, and painting the shapes at any scale (on screen, into the original's
// pixels, or white on black as an edit mask). Draw and Mark to edit each make their own layer,
// so neither sees the other's shapes; a layer only listens while its tool is open.

/** Paint ``list`` (shapes in display pixels) onto a 2D context, scaled by ``scale``. */
export function paint(ctx, list, scale, { mask = false } = {}) {
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

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/**
 * A shape layer on ``view.overlay`` (``view``: the viewer's context). ``kind()`` is the shape a
 * pointer draws, ``keyKind()`` the one Enter draws from the dashed keyboard shape, ``color()``
 * its colour; ``drawn`` names what Enter did, for screen readers.
 */
export function createSketch(view, { kind, keyKind, color, drawn }) {
  const { overlay, image } = view;
  let active = false;
  let shapes = [];
  let redoStack = [];
  let drawing = null;
  let keyShape = null; // {x, y, w, h} on screen: the shape arrows move and Enter draws

  function reset() {
    shapes = [];
    redoStack = [];
    drawing = null;
    keyShape = null;
  }

  function size() {
    overlay.width = image.clientWidth;
    overlay.height = image.clientHeight;
    overlay.style.width = `${image.clientWidth}px`;
    overlay.style.height = `${image.clientHeight}px`;
  }

  function defaultKeyShape() {
    const W = image.clientWidth, H = image.clientHeight;
    return { x: W * 0.35, y: H * 0.35, w: W * 0.3, h: H * 0.3 };
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

  function localPoint(event) {
    const rect = image.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  overlay.addEventListener("focus", () => {
    if (!active) return;
    keyShape = keyShape || defaultKeyShape();
    redraw();
  });
  overlay.addEventListener("blur", () => { if (active) redraw(); });
  overlay.addEventListener("pointerdown", (event) => {
    if (!active) return;
    const point = localPoint(event);
    overlay.setPointerCapture(event.pointerId);
    drawing = { kind: kind(), color: color(), from: point, to: point, points: [point], size: Math.max(12, image.clientWidth / 25) };
  });
  overlay.addEventListener("pointermove", (event) => {
    if (!active || !drawing) return;
    const point = localPoint(event);
    drawing.to = point;
    drawing.points.push(point);
    redraw();
  });
  overlay.addEventListener("pointerup", () => {
    if (!active || !drawing) return;
    shapes.push(drawing);
    redoStack = [];
    drawing = null;
    redraw();
  });

  /** Keyboard drawing: arrows move the dashed shape, Shift+arrows resize it, Enter draws it. */
  function key(event) {
    const W = image.clientWidth;
    const H = image.clientHeight;
    keyShape = keyShape || defaultKeyShape();
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
      const shape = keyKind();
      // A freehand stroke by keyboard goes around the shape's outline.
      const points = shape === "free" ? [from, { x: to.x, y: from.y }, to, { x: from.x, y: to.y }, from] : [from, to];
      shapes.push({ kind: shape, color: color(), from, to, points, size: Math.max(12, W / 25) });
      redoStack = [];
      redraw();
      view.announce(`${drawn} (${shapes.length})`);
      return true;
    }
    return false;
  }

  /** The shapes painted at the original's size: over the image, or (``mask``) white on black. */
  function flatten({ mask = false } = {}) {
    const original = view.current().content.files.original;
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

  return {
    open() { active = true; reset(); size(); redraw(); },
    close() { active = false; reset(); },
    refit() { size(); redraw(); },
    shapes: () => shapes,
    undo() { if (shapes.length) { redoStack.push(shapes.pop()); redraw(); } },
    redo() { if (redoStack.length) { shapes.push(redoStack.pop()); redraw(); } },
    key,
    flatten,
  };
}
