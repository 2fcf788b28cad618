// What an empty chat shows, to teach: example prompts to start from, and what each model is
// for. No state: the models and what a click on an example does are the caller's.

const EXAMPLES = [
  "An orange tabby cat at sunset",
  "A lighthouse on a rocky cliff at night",
  "A red sports car in the city",
  "A green apple on a table",
];

const MODEL_USES = {
  offline: "works without any service: instant drafts to try the app",
  draft: "fast, good everyday pictures and edits",
  "high-end": "the most detailed results, slower and dearer",
};

/** Why a model cannot be picked here, in the server's words (no key, or the provider says it is gone). */
export function unavailableWhy(model) {
  return model.unavailable_reason || "not configured";
}

/** The empty chat's item: ``models`` as GET /v1/apps/images/models lists them. */
export function emptyState(models, onExample) {
  const item = document.createElement("li");
  item.className = "empty";
  item.dataset.testid = "empty-state";
  const title = document.createElement("h2");
  title.textContent = "What should we make?";
  const how = document.createElement("p");
  how.textContent = "Describe an image and press Enter. Open an image to crop it, draw on it or mark a part to change. " +
    "Attach photos with the clip, by dragging them here, or by pasting.";
  const examples = document.createElement("div");
  examples.className = "examples";
  examples.setAttribute("role", "group");
  examples.setAttribute("aria-label", "Example prompts");
  for (const text of EXAMPLES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.testid = "example-prompt";
    button.textContent = text;
    button.addEventListener("click", () => onExample(text));
    examples.append(button);
  }
  const guide = document.createElement("ul");
  guide.className = "model-guide";
  guide.dataset.testid = "model-guide";
  for (const model of models) {
    const entry = document.createElement("li");
    const name = document.createElement("b");
    name.textContent = model.label;
    entry.append(name, ` — ${MODEL_USES[model.tier] || model.tier}${model.available ? "" : ` (unavailable here: ${unavailableWhy(model)})`}`);
    guide.append(entry);
  }
  item.append(title, how, examples, guide);
  return item;
}
