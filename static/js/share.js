// "Share" in the fullscreen viewer: fetch the full WEBP (as stored, or a prompt-less copy the
// server renders), encrypt it here under a fresh share key, upload ciphertext only, and show
// the link /s/<id>#<key>. The key never leaves this page except inside the link the user copies.
import { api, embedContent } from "./api.js";
import { privateFileBlob } from "./hybrid-embeds.js";
import { ITERATIONS, b64url, passwordKeys, randomBytes, sealShare, wrapShareKey } from "./share-crypto.js";

const viewer = document.querySelector("[data-testid=fullscreen]");
let dialog = null;

function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const [key, value] of Object.entries(props.dataset || {})) node.dataset[key] = value;
  node.append(...children);
  return node;
}

function buildDialog() {
  const expiry = element("select", { name: "expires_in" }, [
    ["1h", "1 hour"], ["1d", "1 day"], ["7d", "7 days"], ["30d", "30 days"], ["never", "Never"],
  ].map(([value, text]) => element("option", { value, textContent: text, selected: value === "7d" })));
  expiry.dataset.testid = "share-expiry";
  const password = element("input", { type: "password", name: "password", autocomplete: "new-password", placeholder: "optional" });
  password.dataset.testid = "share-password-input";
  const prompt = element("input", { type: "checkbox", name: "include_prompt", checked: true });
  prompt.dataset.testid = "share-include-prompt";
  const create = element("button", { type: "submit", value: "create", className: "primary", textContent: "Create link" });
  create.dataset.testid = "share-create";
  const close = element("button", { type: "button", textContent: "Close" });
  close.addEventListener("click", () => dialog.close());
  const link = element("input", { type: "text", readOnly: true, name: "link", hidden: true });
  link.dataset.testid = "share-link";
  const copy = element("button", { type: "button", textContent: "Copy link", hidden: true });
  copy.addEventListener("click", async () => {
    link.select();
    try { await navigator.clipboard.writeText(link.value); copy.textContent = "Copied"; } catch { copy.textContent = "Selected — press Ctrl+C"; }
  });
  const message = element("p", { className: "muted", role: "status" });
  message.dataset.testid = "share-message";
  const form = element("form", { method: "dialog" }, [
    element("h2", { textContent: "Share this image" }),
    element("p", { className: "muted", textContent: "Anyone with the link can see the image until it expires or you revoke it (Settings → Share links). It is encrypted in your browser; the key is only in the link." }),
    element("label", {}, ["Expires after ", expiry]),
    element("label", {}, ["Password ", password]),
    element("label", { className: "check" }, [prompt, " Keep the prompt in the shared file's metadata"]),
    message, link,
    element("div", { className: "form-actions" }, [copy, close, create]),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    createLink(form, { create, link, copy, message }).catch((error) => {
      message.textContent = `Could not create the link: ${error.message}`;
      create.disabled = false;
    });
  });
  dialog = element("dialog", { className: "share-dialog" }, [form]);
  dialog.dataset.testid = "share-dialog";
  document.body.append(dialog);
}

async function credentialsSummary(embedId) {
  try {
    const data = await api(`/v1/embeds/${embedId}/provenance`);
    const report = data.renditions.full || data.renditions.original;
    if (!report || report.state === "none") return "No Content Credentials.";
    if (!["Trusted", "Valid"].includes(report.state)) return `Content Credentials: ${report.state}`;
    const trust = report.trust_anchor === "local_test_root" ? "valid, local test certificate" : report.state;
    return `Content Credentials: made with AI · ${report.ai_system || "unknown model"} · signed by ${report.signer || report.issuer} (${trust})`;
  } catch {
    return "Content Credentials could not be checked.";
  }
}

async function createLink(form, { create, link, copy, message }) {
  const embedId = viewer.dataset.currentEmbed;
  const includePrompt = form.elements.include_prompt.checked;
  create.disabled = true;
  message.textContent = "Encrypting…";
  const [content, credentials, file] = await Promise.all([
    embedContent(embedId),
    // A private upload was re-encoded in the browser: it carries no credentials to check.
    embedContent(embedId).then((c) => (c.private ? "No Content Credentials." : credentialsSummary(embedId))),
    // A private image's copy is decrypted here (hybrid-embeds.js): the server cannot make one.
    embedContent(embedId).then((c) => (c.private ? privateFileBlob(c, "full").then((b) => new Response(b)) : fetch(`/v1/shares/copy?embed_id=${embedId}&include_prompt=${includePrompt}`, { credentials: "same-origin" }))).then((r) => {
      if (!r.ok) throw new Error(`the image could not be read (${r.status})`);
      return r.arrayBuffer();
    }),
  ]);
  const meta = { mime: "image/webp", ai_made: Boolean(content.ai_made), model: content.model_label || content.model || null, credentials };
  if (includePrompt && content.prompt) meta.prompt = content.prompt;
  const shareKey = randomBytes(32);
  const body = new FormData();
  body.append("embed_id", embedId);
  body.append("expires_in", form.elements.expires_in.value);
  body.append("include_prompt", String(includePrompt));
  let fragment = shareKey;
  if (form.elements.password.value) {
    const secret = randomBytes(32);
    const salt = randomBytes(16);
    const { wrapKey, verifier } = await passwordKeys(form.elements.password.value, salt, ITERATIONS, secret);
    body.append("password_salt", b64url(salt));
    body.append("password_iterations", String(ITERATIONS));
    body.append("wrapped_key", await wrapShareKey(wrapKey, shareKey));
    body.append("verifier", verifier);
    fragment = secret;
  }
  body.append("file", new Blob([await sealShare(shareKey, meta, file)], { type: "application/octet-stream" }), "share");
  const share = await api("/v1/shares", { method: "POST", form: body });
  link.value = `${location.origin}${share.path}#${b64url(fragment)}`;
  link.hidden = false;
  copy.hidden = false;
  create.disabled = false;
  message.textContent = share.expires_at ? `Link ready; it ends ${new Date(share.expires_at).toLocaleString()}.` : "Link ready; it never expires (revoke it in Settings).";
}

viewer?.addEventListener("click", (event) => {
  if (!event.target.closest("[data-action=share]")) return;
  if (!dialog) buildDialog();
  dialog.querySelector("[data-testid=share-link]").hidden = true;
  dialog.querySelector("[data-testid=share-message]").textContent = "";
  dialog.showModal();
});
