// The viewer's Draw tool: rectangles, ellipses, arrows and freehand strokes in a chosen colour
// (its own shape layer, shape and colour), and "Ask about this": the annotated image goes to the
// composer with the shapes as the question's region, in the original's pixels.
import { regionFromShapes } from "./analysis.js";
import { createSketch } from "./sketch.js";

/** ``view``: the viewer's context (elements, the image shown, close, announce, actions). */
export function createDrawTool(view) {
  let shape = "rect";
  let color = "#ff3b30";
  const sketch = createSketch(view, { kind: () => shape, keyKind: () => shape, color: () => color, drawn: "Shape drawn" });

  async function ask() {
    const canvas = sketch.flatten();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const drawnOn = view.current().id; // sent along, so a drawing over an AI image stays labelled AI-made
    const region = regionFromShapes(sketch.shapes(), view.originalScale()); // what the question is about
    view.close();
    await view.actions().attachBlob(blob, "annotated.png", drawnOn, region);
  }

  return {
    open: sketch.open,
    close: sketch.close,
    refit: sketch.refit,
    key: sketch.key,
    undo: sketch.undo,
    redo: sketch.redo,
    /** A click inside the viewer: true if it was one of this tool's buttons. */
    async click(target) {
      if (target.dataset.shape) { shape = target.dataset.shape; view.toggleOn(target, "[data-shape]"); }
      else if (target.dataset.color) { color = target.dataset.color; view.toggleOn(target, "[data-color]"); }
      else if (target.dataset.action === "ask") await ask();
      else return false;
      return true;
    },
  };
}
