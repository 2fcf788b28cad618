// The spec's hybrid access flow: for every embed the web app shows, it looks for an embed_key
// (GET /v1/embed_keys, batched). With one, the embed is client-mode: its files come as
// ciphertext from the same GET /v1/embeds/{id}/file and are decrypted here (object URLs), and
// its name, type and sizes come from the key's encrypted meta. Without one it is vault-mode:
// /content and the decrypted file, as before. A client-mode embed whose key this browser cannot
// open (no master key here) is shown locked, never as its ciphertext.
import { api, fileUrl } from "./api.js";
import { loadMasterKey, open, openEmbedKey } from "./private-crypto.js";
import { unb64url } from "./share-crypto.js";

const keys = new Map(); // embedId -> promise of {key, meta} or null
let batch = null;
const MAX_BATCH = 100;

function flush(ids) {
  const query = ids.map((id) => `embed_id=${encodeURIComponent(id)}`).join("&");
  return api(`/v1/embed_keys?${query}`).then((body) => new Map(body.embed_keys.map((k) => [k.embed_id, k])));
}

/** The embed's key row from the server (null: vault mode), one request per tick for all embeds. */
function lookup(embedId) {
  if (!batch) {
    batch = { ids: [], result: null };
    const current = batch;
    current.result = Promise.resolve().then(() => { batch = null; return flush(current.ids); });
  }
  const current = batch;
  current.ids.push(embedId);
  if (current.ids.length >= MAX_BATCH) batch = null;
  return current.result.then((rows) => rows.get(embedId) || null);
}

async function openKey(row) {
  const master = await loadMasterKey();
  if (!master) return { locked: true };
  try {
    const key = await openEmbedKey(master, row.wrapped_key);
    const meta = JSON.parse(new TextDecoder().decode(await open(key, "meta", unb64url(row.encrypted_meta))));
    return { key, meta };
  } catch {
    return { locked: true }; // another account's master key, or a tampered row
  }
}

/** The embed's key (and meta) if it has one: {key, meta}, {locked: true}, or null (vault). */
export function embedKey(embedId) {
  if (!keys.has(embedId)) {
    const promise = lookup(embedId).then((row) => (row ? openKey(row) : null));
    promise.catch(() => keys.delete(embedId));
    keys.set(embedId, promise);
  }
  return keys.get(embedId);
}

/** A new private upload's key, known at once (no lookup for what this tab just made). */
export function rememberEmbedKey(embedId, key, meta) {
  keys.set(embedId, Promise.resolve({ key, meta }));
}

const LOCKED_FILE = { width: 600, height: 400, size_bytes: 0, format: "private", mime: "application/octet-stream" };

const privates = new Map(); // embedId -> its content, for decisions that cannot wait (a click)

/** The content of a private embed already shown in this tab (undefined: vault, or not shown). */
export const knownPrivate = (embedId) => privates.get(embedId);

/** Content as the views use it: a client-mode embed's own description merged in. */
export function withKey(content, found) {
  if (!found && content.encryption_mode !== "client") return content; // vault mode
  const merged = !found || found.locked
    ? { ...content, private: true, locked: true, file_name: "Private image",
        files: { preview: LOCKED_FILE, full: LOCKED_FILE, original: LOCKED_FILE } }
    : { ...content, ...found.meta, private: true, locked: false };
  privates.set(content.embed_id, merged);
  return merged;
}

const blobs = new Map(); // `${embedId}|${variant}` -> promise of {blob, url}: fetched once per tab
function decrypted(content, variant) {
  const cacheKey = `${content.embed_id}|${variant}`;
  if (!blobs.has(cacheKey)) {
    const promise = (async () => {
      const found = await embedKey(content.embed_id);
      if (!found || found.locked) throw new Error("This private image cannot be opened in this browser.");
      const response = await fetch(fileUrl(content.embed_id, variant), { credentials: "same-origin" });
      if (!response.ok) throw new Error(`The image could not be loaded (${response.status}).`);
      const plain = await open(found.key, variant, await response.arrayBuffer());
      const blob = new Blob([plain], { type: content.files?.[variant]?.mime || "image/webp" });
      return { blob, url: URL.createObjectURL(blob) };
    })();
    promise.catch(() => blobs.delete(cacheKey));
    blobs.set(cacheKey, promise);
  }
  return blobs.get(cacheKey);
}

/** The decrypted file as an object URL (for <img> and download links). */
export const privateFileUrl = (content, variant) => decrypted(content, variant).then((d) => d.url);
/** The decrypted file as a Blob (for a share or a consented copy: no fetch of a blob: URL,
 *  which the app's CSP, connect-src 'self', does not allow). */
export const privateFileBlob = (content, variant) => decrypted(content, variant).then((d) => d.blob);

/** Show a private embed's file in an <img>: decrypted here, or a locked placeholder. */
export function decryptInto(img, content, variant) {
  img.removeAttribute("src");
  img.dataset.private = content.locked ? "locked" : "loading";
  const frame = img.closest(".frame");
  if (frame && !frame.querySelector(".private-badge")) {
    frame.append(Object.assign(document.createElement("span"), {
      className: "private-badge", textContent: content.locked ? "🔒 Locked" : "🔒 Private",
      title: content.locked ? "Private image: log in again in this browser to open it" : "Private: encrypted in your browser" }));
    frame.querySelector(".private-badge").dataset.testid = "private-badge";
  }
  if (content.locked) {
    img.alt = "Private image, locked in this browser (log in again to open it)";
    return Promise.resolve();
  }
  return privateFileUrl(content, variant).then((url) => {
    img.src = url;
    img.dataset.private = "open";
  }).catch(() => { img.dataset.private = "locked"; });
}

/** The viewer's download links point at decrypted copies, not at the ciphertext. */
export function privateDownloads(root, content) {
  for (const [action, variant] of [["download", "full"], ["download-original", "original"]]) {
    const link = root.querySelector(`[data-action=${action}]`);
    link.removeAttribute("href");
    if (!content.locked) privateFileUrl(content, variant).then((url) => { link.href = url; }).catch(() => {});
  }
}
