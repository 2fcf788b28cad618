// Share-link cryptography, shared by the owner's side (share.js) and the visitor's (share-page.js).
// The image is encrypted under a fresh AES-256-GCM share key (fresh IV) that only the URL
// fragment carries. With a password, the fragment carries a random secret F instead, and the
// share key is wrapped by a key derived (HKDF) from PBKDF2-SHA256(password, per-share salt) and
// F; the server gets a verifier derived the same way (it stores its SHA-256) to enforce the
// password, and can test no password guess offline because it never sees F.
export const ITERATIONS = 600000; // OWASP Password Storage Cheat Sheet, PBKDF2-HMAC-SHA256
const PREFIX = new TextEncoder().encode("OMS1");
const AAD = new TextEncoder().encode("openmates-images/share/v1");
const enc = new TextEncoder();

export function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function unb64url(text) {
  const raw = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

const aesKey = (raw, usages) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, usages);

/** "OMS1" || IV || AES-256-GCM(key, meta length (u32) || meta JSON || image). */
export async function sealShare(keyBytes, meta, image) {
  const metaBytes = enc.encode(JSON.stringify(meta));
  const plain = new Uint8Array(4 + metaBytes.length + image.byteLength);
  new DataView(plain.buffer).setUint32(0, metaBytes.length);
  plain.set(metaBytes, 4);
  plain.set(new Uint8Array(image), 4 + metaBytes.length);
  const iv = randomBytes(12);
  const key = await aesKey(keyBytes, ["encrypt"]);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, plain));
  const out = new Uint8Array(PREFIX.length + iv.length + sealed.length);
  out.set(PREFIX, 0);
  out.set(iv, PREFIX.length);
  out.set(sealed, PREFIX.length + iv.length);
  return out;
}

export async function openShare(keyBytes, envelope) {
  const bytes = new Uint8Array(envelope);
  if (!PREFIX.every((b, i) => bytes[i] === b)) throw new Error("not a share envelope");
  const key = await aesKey(keyBytes, ["decrypt"]);
  const iv = bytes.slice(4, 16);
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, bytes.slice(16)));
  const length = new DataView(plain.buffer).getUint32(0);
  const meta = JSON.parse(new TextDecoder().decode(plain.slice(4, 4 + length)));
  return { meta, image: plain.slice(4 + length) };
}

/** The wrapping key and the verifier for (password, salt, fragment secret). */
export async function passwordKeys(password, salt, iterations, secret) {
  const base = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  const stretched = new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
  const ikm = new Uint8Array(64);
  ikm.set(stretched, 0);
  ikm.set(secret, 32);
  const hkdf = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits", "deriveKey"]);
  const params = (info) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(info) });
  const wrapKey = await crypto.subtle.deriveKey(params("omi-share-wrap"), hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const verifier = new Uint8Array(await crypto.subtle.deriveBits(params("omi-share-verify"), hkdf, 256));
  return { wrapKey, verifier: b64url(verifier) };
}

export async function wrapShareKey(wrapKey, keyBytes) {
  const iv = randomBytes(12);
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrapKey, keyBytes));
  const out = new Uint8Array(12 + wrapped.length);
  out.set(iv, 0);
  out.set(wrapped, 12);
  return b64url(out);
}

export async function unwrapShareKey(wrapKey, wrapped) {
  const bytes = unb64url(wrapped);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12) }, wrapKey, bytes.slice(12)));
}
