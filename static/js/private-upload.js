// Private ("zero-knowledge") uploads: the browser does what the server does for a vault upload
// (strip metadata, apply the orientation, make original, full WEBP and preview), then encrypts
// each file under a fresh embed key and uploads ciphertext only. The embed key goes to the
// server wrapped by the master key (private-crypto.js), with the files' description (name,
// sizes, types) encrypted beside it, so the server keeps no name, type or dimensions.
import { api } from "./api.js";
import { rememberEmbedKey } from "./hybrid-embeds.js";
import { loadMasterKey, newEmbedKey, seal } from "./private-crypto.js";
import { b64url } from "./share-crypto.js";

const PREVIEW = { width: 600, height: 400 }; // the server's preview size limit
const FULL_QUALITY = 0.92;
const PREVIEW_QUALITY = 0.8;

/** Whether the composer's "Private" box is ticked (its default comes from Settings). */
export function privateChosen(composer) {
  return Boolean(composer.querySelector("[data-testid=private-upload]")?.checked);
}

function encode(bitmap, width, height, type, quality) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  // A canvas re-encode carries pixels only: EXIF (GPS, camera), XMP and ICC text are gone.
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("This browser could not encode the image."))), type, quality));
}

/** The three renditions of a file, metadata stripped, orientation applied. */
export async function renditions(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" })
    .catch(() => { throw new Error("This file could not be read as an image."); });
  const { width, height } = bitmap;
  const scale = Math.min(1, PREVIEW.width / width, PREVIEW.height / height);
  const small = { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  // A photo stays a (clean) JPEG; anything else becomes a lossless PNG, as the server does.
  const originalType = file.type === "image/jpeg" ? "image/jpeg" : "image/png";
  const out = {
    original: { blob: await encode(bitmap, width, height, originalType, 0.95), width, height },
    full: { blob: await encode(bitmap, width, height, "image/webp", FULL_QUALITY), width, height },
    preview: { blob: await encode(bitmap, small.width, small.height, "image/webp", PREVIEW_QUALITY), ...small },
  };
  bitmap.close();
  return out;
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
