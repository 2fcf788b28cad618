// The public share page: fetch the ciphertext, decrypt it with the key in the URL fragment
// (never sent to the server) and show the image, its AI label and its Content Credentials.
import { openShare, passwordKeys, unb64url, unwrapShareKey } from "./share-crypto.js";

const root = document.querySelector("[data-testid=share-page]");
const status = root.querySelector("[data-testid=share-status]");
const form = root.querySelector("[data-testid=share-password-form]");
const errorBox = root.querySelector("[data-testid=share-error]");
const secret = (() => {
  try {
    const bytes = unb64url(location.hash.slice(1));
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
})();
const dataUrl = `/s/${encodeURIComponent(root.dataset.shareId)}/data`;

function show({ meta, image }) {
  const url = URL.createObjectURL(new Blob([image], { type: meta.mime || "image/webp" }));
  const img = root.querySelector("[data-testid=share-image]");
  img.src = url;
  img.alt = meta.prompt || "Shared image";
  root.querySelector("[data-testid=share-download]").href = url;
  const label = root.querySelector("[data-testid=share-ai-label]");
  if (meta.ai_made) {
    label.textContent = `Made with AI${meta.model ? ` · ${meta.model}` : ""}`;
    label.hidden = false;
  }
  root.querySelector("[data-testid=share-credentials]").textContent = meta.credentials || "No Content Credentials.";
  root.querySelector(".share-figure").hidden = false;
  form.hidden = true;
  status.textContent = "";
}

async function fetchData(init) {
  const response = await fetch(dataUrl, { credentials: "omit", cache: "no-store", ...init });
  if (response.status === 403) throw Object.assign(new Error("Wrong password."), { retry: true });
  if (response.status === 429) throw Object.assign(new Error("Too many tries; wait a minute."), { retry: true });
  if (!response.ok) throw new Error("This link is not available.");
  return response;
}

async function openPlain() {
  const response = await fetchData({});
  show(await openShare(secret, await response.arrayBuffer()));
}

async function openWithPassword(password) {
  const salt = unb64url(root.dataset.salt);
  const { wrapKey, verifier } = await passwordKeys(password, salt, Number(root.dataset.iterations), secret);
  const response = await fetchData({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ verifier }) });
  const key = await unwrapShareKey(wrapKey, response.headers.get("X-Share-Wrapped-Key"));
  show(await openShare(key, await response.arrayBuffer()));
}

function fail(error) {
  status.textContent = "";
  if (error.retry) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  } else {
    status.textContent = error.name === "OperationError" ? "The link's key is wrong or incomplete." : error.message;
  }
}

if (!secret) {
  status.textContent = "The link is incomplete: the part after “#” is missing or damaged.";
} else if (root.dataset.password === "1") {
  status.textContent = "";
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    status.textContent = "Checking…";
    openWithPassword(form.elements.password.value).catch(fail);
  });
} else {
  openPlain().catch(fail);
}
