// Zero-knowledge images: the master key, embed keys and the files' envelopes (WebCrypto only).
//
// Master key: AES-256, made by the browser, stored on the server only wrapped (AES-GCM, fresh
// IV) under a key derived from the password: PBKDF2-SHA256, a per-user random 16-byte salt with a
// purpose prefix (so it is never Django's own password hash), 600,000 iterations (OWASP). In
// this browser it lives only as a non-extractable CryptoKey in IndexedDB, dropped at log-out.
// Each private image has its own AES-256 embed key, wrapped by the master key; each file is
// "OMC1" || IV (12) || AES-GCM(embed key, file, AAD "openmates-images/client/v1|<variant>").
// tests/client_crypto.py is the same scheme in Python.
import { ITERATIONS, b64url, randomBytes, unb64url } from "./share-crypto.js";

const enc = new TextEncoder();
const MASTER_AAD = enc.encode("openmates-images/master-key/v1");
const EMBED_KEY_AAD = enc.encode("openmates-images/embed-key/v1");
const FILE_AAD = "openmates-images/client/v1|";
const PREFIX = enc.encode("OMC1");
const AES = { name: "AES-GCM", length: 256 };

export { ITERATIONS };

/** The password as a non-extractable PBKDF2 key: what the log-in form hands to the next page. */
export const passwordKey = (password) =>
  crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveKey"]);

/** The key that wraps the master key, from the password (a string or its passwordKey). */
async function wrappingKey(password, salt, iterations) {
  const base = typeof password === "string" ? await passwordKey(password) : password;
  const purposeSalt = new Uint8Array(MASTER_AAD.length + 1 + salt.length);
  purposeSalt.set(MASTER_AAD, 0);
  purposeSalt[MASTER_AAD.length] = 0x7c; // "|"
  purposeSalt.set(salt, MASTER_AAD.length + 1);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: purposeSalt, iterations },
    base, AES, false, ["encrypt", "decrypt", "unwrapKey"]);
}

const joined = (iv, bytes) => {
  const out = new Uint8Array(iv.length + bytes.byteLength);
  out.set(iv, 0);
  out.set(new Uint8Array(bytes), iv.length);
  return out;
};

/** Wrap raw master-key bytes for the password: the body POST /v1/account/master_key takes. */
async function wrapRaw(password, raw) {
  const salt = randomBytes(16);
  const kek = await wrappingKey(password, salt, ITERATIONS);
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: MASTER_AAD }, kek, raw);
  return { wrapped_key: b64url(joined(iv, sealed)), salt: b64url(salt), iterations: ITERATIONS, version: 1 };
}

const importMaster = (raw) => crypto.subtle.importKey("raw", raw, AES, false, ["wrapKey", "unwrapKey"]);

/** A new master key: its wrapped form for the server and the non-extractable key for this browser. */
export async function newMasterKey(password) {
  const raw = randomBytes(32);
  try {
    return { stored: await wrapRaw(password, raw), key: await importMaster(raw) };
  } finally {
    raw.fill(0);
  }
}

async function openRaw(password, stored) {
  const kek = await wrappingKey(password, unb64url(stored.salt), stored.iterations);
  const bytes = unb64url(stored.wrapped_key);
  return new Uint8Array(await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: MASTER_AAD }, kek, bytes.slice(12)));
}

/** The stored master key opened with the password, as a non-extractable key (throws if wrong). */
export async function openMasterKey(password, stored) {
  const kek = await wrappingKey(password, unb64url(stored.salt), stored.iterations);
  const bytes = unb64url(stored.wrapped_key);
  return crypto.subtle.unwrapKey("raw", bytes.slice(12), kek,
    { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: MASTER_AAD }, AES, false, ["wrapKey", "unwrapKey"]);
}

/** The same master key wrapped for a new password (a password change). */
export async function rewrapMasterKey(oldPassword, newPassword, stored) {
  const raw = await openRaw(oldPassword, stored);
  try {
    return await wrapRaw(newPassword, raw);
  } finally {
    raw.fill(0);
  }
}

export async function newEmbedKey(masterKey) {
  const key = await crypto.subtle.generateKey(AES, true, ["encrypt", "decrypt"]);
  const iv = randomBytes(12);
  const wrapped = await crypto.subtle.wrapKey("raw", key, masterKey, { name: "AES-GCM", iv, additionalData: EMBED_KEY_AAD });
  return { key, wrapped: b64url(joined(iv, wrapped)) };
}

export function openEmbedKey(masterKey, wrapped) {
  const bytes = unb64url(wrapped);
  return crypto.subtle.unwrapKey("raw", bytes.slice(12), masterKey,
    { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: EMBED_KEY_AAD }, AES, false, ["decrypt"]);
}

export async function seal(key, variant, data) {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc.encode(FILE_AAD + variant) }, key, data);
  const out = new Uint8Array(PREFIX.length + iv.length + sealed.byteLength);
  out.set(PREFIX, 0);
  out.set(iv, PREFIX.length);
  out.set(new Uint8Array(sealed), PREFIX.length + iv.length);
  return out;
}

export async function open(key, variant, envelope) {
  const bytes = new Uint8Array(envelope);
  if (!PREFIX.every((b, i) => bytes[i] === b)) throw new Error("not a private image envelope");
  return crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(4, 16), additionalData: enc.encode(FILE_AAD + variant) },
    key, bytes.slice(16));
}

// --- this browser's copy of the master key: IndexedDB, non-extractable ---------------------------
const DB = "openmates-images-keys";
function store(mode, action) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("keys");
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const tx = request.result.transaction("keys", mode);
      const result = action(tx.objectStore("keys"));
      tx.oncomplete = () => { request.result.close(); resolve(result.result); };
      tx.onerror = () => reject(tx.error);
    };
  });
}

export const rememberMasterKey = (key) => store("readwrite", (s) => s.put(key, "master"));
export const forgetMasterKey = () => store("readwrite", (s) => s.delete("master"));
// The log-in's password, as a non-extractable key, for the one page load that follows it.
export const stashPassword = (key) => store("readwrite", (s) => s.put(key, "pending"));
export const takePassword = () => store("readonly", (s) => s.get("pending")).catch(() => null);
export const dropPassword = () => store("readwrite", (s) => s.delete("pending")).catch(() => {});

let unlocking = Promise.resolve();
/** Readers of the master key wait for a log-in's unlock that is under way (master-key.js). */
export function whileUnlocking(promise) {
  unlocking = promise.catch(() => {});
}
export const loadMasterKey = () => unlocking.then(() => store("readonly", (s) => s.get("master"))).catch(() => null);
