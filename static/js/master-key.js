// Sign-up, log-in and password change with a zero-knowledge master key (private-crypto.js).
// The forms still post the password to Django, as without JavaScript; this script also runs
// PBKDF2 on it in the browser (another salt and purpose) to wrap or unwrap the master key,
// which the server only ever receives wrapped. An account made before this gets its master key
// at its next log-in; log-out forgets this browser's copy.
import { api } from "./api.js";
import { forgetMasterKey, newMasterKey, openMasterKey, rememberMasterKey, rewrapMasterKey } from "./private-crypto.js";

/** After a successful log-in or sign-up: open (or make) the master key and keep it here. */
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

/** Post the auth form in the background; on success unlock, then go where Django sent us. */
function hookAuthForm(form, passwordField, formPath) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.plain) return;
    event.preventDefault();
    const password = form.elements[passwordField].value;
    const status = form.querySelector("[data-testid=key-status]");
    if (status) status.textContent = "Opening your private key…";
    const response = await fetch(form.action || location.href, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .catch(() => null);
    if (!response || !response.redirected || new URL(response.url).pathname === formPath) {
      form.dataset.plain = "1"; // let Django show its errors, as without JavaScript
      form.submit();
      return;
    }
    try {
      await unlock(password);
    } catch (error) {
      console.warn("master key", error?.message);
    }
    location.assign(response.url);
  });
}

const login = document.querySelector("[data-testid=login-form]");
if (login) hookAuthForm(login, "password", "/login/");
const signup = document.querySelector("[data-testid=signup-form]");
if (signup) hookAuthForm(signup, "password1", "/signup/");

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
    forgetMasterKey().catch(() => {}).finally(() => form.submit());
  });
}
