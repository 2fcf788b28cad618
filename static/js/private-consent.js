// AI on a private image only with consent. Crop, Draw (Ask about this), Mark to edit and Find
// similar need the server to see pixels, and the server refuses them on a client-mode image.
// On a private image the viewer asks once ("the assistant needs to see this image"); on yes the
// browser uploads the decrypted original as a normal (vault) upload derived_from the private
// one, switches the viewer to that copy and carries on with the tool. The private original
// stays private; the consent (and the copy) is remembered for this tab. A question in the
// composer about a private attachment asks the same way (consentedCopy).
import { api } from "./api.js";
import { openViewer } from "./viewer.js";
import { knownPrivate, privateFileBlob } from "./hybrid-embeds.js";

const viewer = document.querySelector("[data-testid=fullscreen]");
const dialog = document.querySelector("[data-testid=consent-dialog]");
const NEEDS_PIXELS = new Set(["crop", "draw", "mark", "find-similar"]);
const copies = new Map(); // private embed id -> promise of its vault copy's id

function ask() {
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

async function vaultCopy(content) {
  const blob = await privateFileBlob(content, "original");
  const form = new FormData();
  form.append("file", blob, content.file_name || "image");
  form.append("derived_from", content.embed_id);
  return (await api("/v1/embeds/upload", { method: "POST", form })).embed_id;
}

/** What the assistant may look at in place of ``embedId``: the image itself when it is not
 * private; for a private one, its vault copy, made once after the user agrees (null: they said
 * no, and nothing is sent). The composer asks this before a question about its attachments. */
export async function consentedCopy(embedId) {
  const content = knownPrivate(embedId);
  if (!content) return embedId;
  if (content.locked) throw new Error("This private image cannot be opened in this browser.");
  if (!copies.has(embedId)) {
    if (!(await ask())) return null;
    const promise = vaultCopy(content);
    promise.catch(() => copies.delete(embedId));
    copies.set(embedId, promise);
  }
  return copies.get(embedId);
}

viewer?.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (!button || !NEEDS_PIXELS.has(button.dataset.action)) return;
  const content = knownPrivate(viewer.dataset.currentEmbed); // decided now, before the tool's own handler
  if (!content) return;
  event.stopImmediatePropagation();
  event.preventDefault();
  if (content.locked) return;
  try {
    const copyId = await consentedCopy(content.embed_id);
    if (!copyId) return;
    await openViewer(copyId);
    viewer.querySelector(`[data-action="${button.dataset.action}"]`)?.click();
  } catch (error) {
    viewer.querySelector("[data-testid=fullscreen-info]")?.append(
      Object.assign(document.createElement("p"), { className: "error", textContent: `The copy could not be made: ${error.message}` }));
  }
}, true);
