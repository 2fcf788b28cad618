// Answers to questions about images: the image_analysis card (the assistant's reply in the chat),
// filled in as the answer streams over the socket (analysis_delta events carry the whole answer
// so far), then shown from the embed's content once the task has ended.

const streamed = new Map(); // embedId -> the answer so far, as last pushed

/** The shapes drawn in the fullscreen viewer (display pixels) as the API's region (original pixels). */
export function regionFromShapes(shapes, scale) {
  const px = (value) => Math.round(value * scale);
  const box = (a, b) => ({ x: px(Math.min(a.x, b.x)), y: px(Math.min(a.y, b.y)),
                           width: Math.max(1, px(Math.abs(b.x - a.x))), height: Math.max(1, px(Math.abs(b.y - a.y))) });
  const out = [];
  for (const item of shapes) {
    if (item.kind === "rect") out.push({ type: "rectangle", ...box(item.from, item.to) });
    else if (item.kind === "ellipse") out.push({ type: "ellipse", ...box(item.from, item.to) });
    else if (item.kind === "arrow") out.push({ type: "arrow", x1: px(item.from.x), y1: px(item.from.y), x2: px(item.to.x), y2: px(item.to.y) });
    else if (item.points?.length >= 2) out.push({ type: "freehand", points: item.points.slice(0, 2000).map((p) => [px(p.x), px(p.y)]) });
  }
  return out.length ? { shapes: out.slice(0, 20) } : null;
}

/** One analysis_delta event: show the answer so far on every card of that embed. */
export function analysisDelta(payload) {
  if (!payload?.embed_id || typeof payload.text !== "string") return;
  streamed.set(payload.embed_id, payload.text);
  const selector = `[data-embed-id="${CSS.escape(payload.embed_id)}"][data-status=processing] [data-testid=analysis-answer]`;
  for (const node of document.querySelectorAll(selector)) {
    node.textContent = payload.text;
    node.parentElement?.querySelector("[data-testid=analysis-waiting]")?.remove();
  }
}

/** Render an image_analysis card. ``el`` is embeds.js's element helper; ``cancel(taskId)``. */
export function renderAnalysis(node, content, status, task, { el, cancel }) {
  node.style.removeProperty("--card-w");
  node.classList.add("is-analysis");
  node.onclick = null;
  node.onkeydown = null;
  const model = el("small", { class: "muted", text: content.model_label || content.model || "" });
  if (status === "processing") {
    const sofar = streamed.get(content.embed_id) || "";
    node.replaceChildren(
      el("div", { class: "analysis-answer streaming", "data-testid": "analysis-answer", text: sofar }),
      sofar ? null : el("p", { class: "muted", "data-testid": "analysis-waiting", text: "Looking at the image…" }),
      model,
      task ? el("button", { type: "button", class: "cancel", text: "Cancel",
                            onclick: (e) => { e.stopPropagation(); cancel(task.task_id); } }) : null);
    return;
  }
  if (status === "error") {
    const error = task?.error || content.error || { message: "The question could not be answered." };
    node.replaceChildren(el("p", { class: "error", "data-testid": "embed-error", text: error.message }), model);
    return;
  }
  streamed.delete(content.embed_id);
  node.replaceChildren(
    el("div", { class: "analysis-answer", "data-testid": "analysis-answer", text: content.answer || "" }),
    content.truncated ? el("p", { class: "muted", text: "The answer was cut short." }) : null,
    model);
}
