// The composer: the message box (autosize, character count, Enter), attachments (clip, drop,
// paste; uploaded at once, removable), the aspect ratio and model choices, and Send, which
// picks the skill: a description makes an image, a question about attached images is answered,
// images alone get a reply. It owns the attachments and the regions drawn on them.
import { api } from "./api.js";
import { unavailableWhy } from "./empty-state.js";
import { imageEmbed } from "./embeds.js";
import { refreshEmptyState } from "./messages.js";
import { consentedCopy } from "./private-consent.js";
import { privateChosen, uploadPrivate } from "./private-upload.js";
import * as skills from "./skills.js";
import { run, showError, showNote } from "./status.js";

const app = document.getElementById("app");
const composer = app.querySelector("[data-testid=composer]");
const input = composer.querySelector("[data-testid=composer-input]");
const attachInput = composer.querySelector("[data-testid=attach-input]");
const attachmentsBox = composer.querySelector("[data-testid=attachments]");
const aspectSelect = composer.querySelector("[data-testid=aspect-ratio]");
const modelSelect = composer.querySelector("[data-testid=model-select]");
const variantsSelect = composer.querySelector("[data-testid=variants]");
const counter = composer.querySelector("[data-testid=composer-counter]");
const PROMPT_MAX = Number(app.dataset.promptMax) || 4000;

let attachments = []; // embed ids, in the order attached
const references = new Set(); // attachments marked "Use as reference" for a generate request
const regions = new Map(); // annotated attachment's embed id -> {embedId: the image drawn on, region}
let models = [];

export function focusComposer() {
  input.focus();
}

/** The models as last loaded (for the empty chat's guide). */
export function loadedModels() {
  return models;
}

/** Put ``text`` in the message box, ready to send. */
export function setText(text) {
  input.value = text;
  autosize();
  updateCounter();
  input.focus();
}

/** The viewer's Edit prompt: the image's prompt and choices back in the composer. */
export function editPrompt(content) {
  input.value = content.prompt;
  if (content.aspect_ratio) aspectSelect.value = content.aspect_ratio;
  if (content.model && [...modelSelect.options].some((o) => o.value === content.model && !o.disabled)) {
    modelSelect.value = content.model;
  }
  autosize();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  showNote("Change the prompt, then press Enter to make it again.", { seconds: 8 });
}

function clearAttachments() {
  attachments = [];
  references.clear();
  attachmentsBox.replaceChildren();
}

/** Upload ``files`` as attachments; ``derivedFrom``/``region``: drawn on that image ("Ask about this"). */
export async function attachFiles(files, derivedFrom = null, region = null) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) { showError(`${file.name} is not an image.`); continue; }
    const chip = document.createElement("div");
    chip.className = "attachment uploading";
    chip.textContent = `Uploading ${file.name}…`;
    attachmentsBox.append(chip);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      if (derivedFrom) form.append("derived_from", derivedFrom);
      const content = !derivedFrom && privateChosen(composer) // private: encrypted here (private-upload.js)
        ? await uploadPrivate(file) : await api("/v1/embeds/upload", { method: "POST", form });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove";
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      remove.textContent = "×";
      remove.addEventListener("click", () => {
        attachments = attachments.filter((id) => id !== content.embed_id);
        references.delete(content.embed_id);
        chip.remove();
      });
      // A generate request draws on the attachments marked here (reference_embed_ids).
      const reference = document.createElement("label");
      reference.className = "use-reference";
      const tick = document.createElement("input");
      tick.type = "checkbox";
      tick.dataset.testid = "use-as-reference";
      tick.setAttribute("aria-label", `Use ${file.name} as a reference for the next image`);
      tick.addEventListener("change", () => {
        if (tick.checked) references.add(content.embed_id); else references.delete(content.embed_id);
      });
      reference.append(tick, " Use as reference");
      chip.className = "attachment";
      chip.replaceChildren(imageEmbed(content.embed_id), remove, reference);
      attachments.push(content.embed_id);
      if (region && derivedFrom) regions.set(content.embed_id, { embedId: derivedFrom, region });
    } catch (error) {
      chip.remove();
      showError(`${file.name}: ${error.message}`);
    }
  }
}

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(160, input.scrollHeight)}px`;
}

// The description's length, shown as it nears the limit (the server's limit, said in words).
function updateCounter() {
  const length = input.value.trim().length;
  counter.hidden = length < PROMPT_MAX * 0.8;
  counter.textContent = `${length} / ${PROMPT_MAX}`;
  counter.classList.toggle("over", length > PROMPT_MAX);
}

function clearText() {
  input.value = "";
  autosize();
  updateCounter();
}

attachInput.addEventListener("change", () => { attachFiles([...attachInput.files]); attachInput.value = ""; });
composer.addEventListener("dragover", (event) => { event.preventDefault(); composer.classList.add("dragging"); });
composer.addEventListener("dragleave", () => composer.classList.remove("dragging"));
composer.addEventListener("drop", (event) => {
  event.preventDefault();
  composer.classList.remove("dragging");
  attachFiles([...event.dataTransfer.files]);
});
input.addEventListener("paste", (event) => {
  const files = [...event.clipboardData.items].filter((i) => i.kind === "file").map((i) => i.getAsFile());
  if (files.length) { event.preventDefault(); attachFiles(files); }
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); composer.requestSubmit(); }
});
input.addEventListener("input", () => { autosize(); updateCounter(); });

// Enter (Send) always gets an answer: a description makes an image; a message with images
// attached is a question about them (or, without words, gets a reply asking what to look at).
composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (/^\/image(\s|$)/.test(text)) return sendGenerate(text.replace(/^\/image\s*/, ""));
  if (!text && !attachments.length) return;
  if (!attachments.length) return sendGenerate(text);
  const attached = [...attachments];
  run(async () => {
    if (text) {
      const embedIds = []; // a private attachment is seen through its consented vault copy
      for (const id of attached) {
        const seen = await consentedCopy(id);
        if (!seen) return; // the user said no: nothing is sent, the message stays to edit
        embedIds.push(seen);
      }
      await skills.askAbout(text, embedIds, regions.get(attached[0]) || null);
    } else await skills.sendImages(attached);
    clearText();
    clearAttachments();
  }).then(() => input.focus());
});
composer.querySelector("[data-testid=generate-button]").addEventListener("click", () =>
  sendGenerate(input.value.trim().replace(/^\/image\s*/, "")));

/** The composer's choices for a new image (``n``: how many variants, side by side). */
export function choices() {
  return { aspect_ratio: aspectSelect.value, model: modelSelect.value || undefined, n: Number(variantsSelect.value) || 1 };
}

function sendGenerate(prompt) {
  if (!prompt) { showError("Describe the image first."); input.focus(); return; }
  if (prompt.length > PROMPT_MAX) {
    showError(`That description is ${prompt.length} characters long; at most ${PROMPT_MAX} fit. Please shorten it.`);
    input.focus();
    return;
  }
  const attached = [...attachments];
  const marked = attached.filter((id) => references.has(id));
  showNote("");
  return run(async () => {
    const referenceIds = []; // a private attachment is drawn on through its consented vault copy
    for (const id of marked) {
      const seen = await consentedCopy(id);
      if (!seen) return; // the user said no: nothing is sent
      referenceIds.push(seen);
    }
    const { response, messages } = await skills.generate(prompt, { ...choices(), embedIds: attached, referenceIds });
    clearText();
    if (!attached.length) return;
    // Attachments go with the request where the server takes them; otherwise say so plainly.
    const index = messages.findIndex((m) => m.message_id === response.message.message_id);
    const request = index > 0 ? messages[index - 1] : null;
    if (request && attached.every((id) => request.embeds.some((e) => e.embed_id === id))) {
      clearAttachments();
    } else {
      const what = attached.length === 1 ? "Your attached image was" : `Your ${attached.length} attached images were`;
      showNote(`${what} not used: image generation works from the text only. ` +
               "They are still in the composer — press Send to share them, or × to remove them.");
    }
  }).then(() => input.focus());
}

/** A retry from a failed card: the same request with its own choices. */
export function retry(content) {
  return run(() => skills.generate(content.prompt, {
    aspect_ratio: content.aspect_ratio || aspectSelect.value, model: content.model || modelSelect.value || undefined,
  }));
}

// A placeholder that fits the composer on a phone.
const tiny = matchMedia("(max-width: 480px)");
function placeholder() {
  input.placeholder = tiny.matches ? "Describe an image…" : "Describe an image, or write a message";
}
tiny.addEventListener("change", placeholder);
placeholder();

/** The models for the picker (those without a working provider shown, but disabled). */
export async function loadModels() {
  const { default: fallback, models: listed } = await api("/v1/apps/images/models");
  models = listed;
  refreshEmptyState();
  modelSelect.replaceChildren(...models.map((model) => {
    const option = document.createElement("option");
    option.value = model.id;
    option.disabled = !model.available;
    option.textContent = `${model.label}${model.available ? "" : ` — unavailable: ${unavailableWhy(model)}`}`;
    if (!model.available) option.title = unavailableWhy(model);
    option.selected = model.id === fallback;
    return option;
  }));
}
