// Private ("zero-knowledge") uploads: the browser does what the server does for a vault upload
// (strip metadata, apply the orientation, make original, full WEBP and preview: in a Web Worker
// with OffscreenCanvas, or on the page where that cannot run), then encrypts
// each file under a fresh embed key and uploads ciphertext only. The embed key goes to the
// server wrapped by the master key (private-crypto.js), with the files' description (name,
// sizes, types) encrypted beside it, so the server keeps no name, type or dimensions.
import { api } from "./api.js";
import { rememberEmbedKey } from "./hybrid-embeds.js";
import { loadMasterKey, newEmbedKey, seal } from "./private-crypto.js";
import { UNREADABLE, decode, renderAll } from "./private-renditions.js";
import { b64url } from "./share-crypto.js";

/** Whether the composer's "Private" box is ticked (its default comes from Settings). */
export function privateChosen(composer) {
  return Boolean(composer.querySelector("[data-testid=private-upload]")?.checked);
}

function encodeOnPage(bitmap, width, height, type, quality) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("This browser could not encode the image."))), type, quality));
}

async function renditionsOnPage(file) {
  const bitmap = await decode(file);
  try {
    return await renderAll(bitmap, file.type, encodeOnPage);
  } finally {
    bitmap.close();
  }
}

// The encoder worker (private-encode-worker.js), made at the first private upload; null once
// it has failed to start, after which the page encodes (as in a browser without OffscreenCanvas).
let worker;
let nextId = 0;
const waiting = new Map();

function encoderWorker() {
  if (worker !== undefined) return worker;
  worker = null;
  if (typeof Worker === "undefined" || typeof OffscreenCanvas === "undefined") return worker;
  try {
    worker = new Worker(new URL("./private-encode-worker.js", import.meta.url), { type: "module" });
  } catch {
    return worker;
  }
  worker.addEventListener("message", ({ data }) => {
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (!pending) return;
    if (data.out) pending.resolve(data.out);
    else if (data.unreadable) pending.reject(new Error(UNREADABLE));
    else pending.fallback();
  });
  worker.addEventListener("error", (event) => { // it could not load or run: the page encodes
    event.preventDefault();
    worker?.terminate();
    worker = null;
    for (const pending of waiting.values()) pending.fallback();
    waiting.clear();
  });
  return worker;
}

/** The three renditions of a file, metadata stripped, orientation applied: in the worker when
 * this browser can, else on the page. */
export function renditions(file) {
  const encoder = encoderWorker();
  if (!encoder) return renditionsOnPage(file);
  return new Promise((resolve, reject) => {
    const id = ++nextId;
    const fallback = () => renditionsOnPage(file).then(resolve, reject);
    waiting.set(id, { resolve, reject, fallback });
    encoder.postMessage({ id, file });
  });
}

/** Upload a file privately; returns the new embed's content (as the hybrid flow shows it). */
export async function uploadPrivate(file) {
  const master = await loadMasterKey();
  if (!master) throw new Error("Private uploads need your key in this browser: log out and in again.");
  const made = await renditions(file);
  const { key, wrapped } = await newEmbedKey(master);
  const form = new FormData();
  form.append("encryption_mode", "client");
  form.append("wrapped_key", wrapped);
  const files = {};
  for (const [variant, { blob, width, height }] of Object.entries(made)) {
    const format = blob.type.split("/")[1];
    files[variant] = { width, height, size_bytes: blob.size, format, mime: blob.type };
    form.append(variant, new Blob([await seal(key, variant, await blob.arrayBuffer())]), variant);
  }
  const meta = { type: "image", source: "upload", file_name: file.name || "image", uploaded_at: new Date().toISOString(), files };
  form.append("encrypted_meta", b64url(await seal(key, "meta", new TextEncoder().encode(JSON.stringify(meta)))));
  const content = await api("/v1/embeds/upload", { method: "POST", form });
  rememberEmbedKey(content.embed_id, key, meta);
  return content;
}
