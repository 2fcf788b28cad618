// The viewer's Mark to edit tool: brush or box the region that should change (its own shape
// layer and marking mode), say what should change, and send the edit: the marks become a
// white-on-black mask at the original's size for the chat's edit skill.
import { createSketch } from "./sketch.js";

/** ``view``: the viewer's context (elements, the image shown, close, announce, actions). */
export function createMaskTool(view) {
  let mode = "brush";
  const sketch = createSketch(view, { kind: () => mode, keyKind: () => "box", color: () => "#ff3b30", drawn: "Area marked" });
  const input = view.root.querySelector("[data-testid=edit-prompt]");

  async function send() {
    const prompt = input.value.trim();
    if (!prompt) { input.focus(); input.placeholder = "Type what should change first"; return; }
    if (!sketch.shapes().length) { input.placeholder = "Mark an area on the image first"; return; }
    const mask = sketch.flatten({ mask: true }).toDataURL("image/png");
    const embedId = view.current().id;
    view.close();
    input.value = "";
    await view.actions().edit(embedId, prompt, mask);
  }

  return {
    open: sketch.open,
    close: sketch.close,
    refit: sketch.refit,
    key: sketch.key,
    undo: sketch.undo,
    redo: sketch.redo,
    send,
    /** A click inside the viewer: true if it was one of this tool's buttons. */
    async click(target) {
      if (target.dataset.mark) { mode = target.dataset.mark; view.toggleOn(target, "[data-mark]"); }
      else if (target.dataset.action === "edit-send") await send();
      else return false;
      return true;
    },
  };
}
