// Sign-up, log-in and password change with a zero-knowledge master key (private-crypto.js).
// The forms still post the password to Django, as without JavaScript; this script also runs
// PBKDF2 on it in the browser (another salt and purpose) to wrap or unwrap the master key,
// which the server only ever receives wrapped. An account made before this gets its master key
// at its next log-in; log-out forgets this browser's copy (and any pending password key).
import { api } from "./api.js";
import {
  dropPassword, forgetMasterKey, loadMasterKey, newMasterKey, openMasterKey, passwordKey, rememberMasterKey, rewrapMasterKey,
  stashPassword, takePassword, whileUnlocking,
} from "./private-crypto.js";

/** After a log-in or sign-up: open (or make) the master key with the stashed password key. */
async function unlock(password) {
  let stored = null;
  try {
    stored = await api("/v1/account/master_key");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (stored) {
    await rememberMasterKey(await openMasterKey(password, stored));
    return;
  }
  const made = await newMasterKey(password);
  await api("/v1/account/master_key", { method: "POST", json: made.stored });
  await rememberMasterKey(made.key);
}

// The log-in and sign-up forms post to Django as they always did (no JavaScript needed to log
// in); as they go, the password is kept here as a non-extractable PBKDF2 key for the page that
// follows, which derives the wrapping key, opens the master key and drops the password key.
function hookAuthForm(form, passwordField) {
  dropPassword(); // a failed attempt's, if any
  form.addEventListener("submit", () => {
    passwordKey(form.elements[passwordField].value).then(stashPassword).catch(() => {});
  });
}

const login = document.querySelector("[data-testid=login-form]");
if (login) hookAuthForm(login, "password");
const signup = document.querySelector("[data-testid=signup-form]");
if (signup) hookAuthForm(signup, "password1");

// A logged-in page says on <html data-master-key> where this browser's key stands: "unlocking"
// while a log-in's unlock runs (the server may not have the key yet: its POST is under way),
// then "open" (this browser holds it) or "locked" (it does not: another browser, or the unlock
// failed). Whatever needs the key to be settled waits for open/locked, never for IndexedDB.
if (document.querySelector("[data-testid=logout]")) { // logged in
  const root = document.documentElement;
  root.dataset.masterKey = "unlocking";
  const unlocked = (async () => {
    const pending = await takePassword();
    if (!pending) return;
    try {
      await unlock(pending);
    } catch (error) {
      console.warn("master key:", error?.message);
    } finally {
      await dropPassword();
    }
  })();
  whileUnlocking(unlocked);
  unlocked.catch(() => {}).then(loadMasterKey).then((key) => {
    root.dataset.masterKey = key ? "open" : "locked";
  });
}

const change = document.querySelector("[data-testid=password-form]");
if (change) {
  change.addEventListener("submit", async (event) => {
    if (change.dataset.plain) return;
    event.preventDefault();
    const error = change.querySelector("[data-testid=password-error]");
    error.textContent = "";
    try {
      const stored = await api("/v1/account/master_key").catch((e) => { if (e.status === 404) return null; throw e; });
      if (stored) {
        const rewrapped = await rewrapMasterKey(change.elements.old_password.value, change.elements.new_password1.value, stored)
          .catch(() => { throw new Error("Your current password is not correct."); });
        for (const [name, value] of Object.entries(rewrapped)) change.elements[name].value = String(value);
      }
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    change.dataset.plain = "1";
    change.submit();
  });
}

// Log-out forgets this browser's copy first (the master key stays, wrapped, on the server).
for (const logout of document.querySelectorAll("[data-testid=logout]")) {
  const form = logout.form;
  form?.addEventListener("submit", (event) => {
    if (form.dataset.plain) return;
    event.preventDefault();
    form.dataset.plain = "1";
    Promise.all([forgetMasterKey(), dropPassword()]).catch(() => {}).finally(() => form.submit());
  });
}
