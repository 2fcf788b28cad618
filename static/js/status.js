// The composer's status lines: the error line (what went wrong, in the server's words) and the
// note (what just happened, fading after a while), and run(), which shows any failure of an
// action there. It owns the two lines and the note's timer.

const composer = document.querySelector("[data-testid=composer]");
const errorBox = composer.querySelector("[data-testid=composer-error]");
const noteBox = composer.querySelector("[data-testid=composer-note]");
let noteTimer;

export function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

export function showNote(message, { seconds = 12 } = {}) {
  clearTimeout(noteTimer);
  noteBox.textContent = message || "";
  noteBox.hidden = !message;
  if (message) noteTimer = setTimeout(() => { noteBox.hidden = true; }, seconds * 1000);
}

/** Run an action, showing its failure (if any) on the error line. */
export async function run(action) {
  showError("");
  try {
    await action();
  } catch (error) {
    showError(error?.message || "Something went wrong.");
  }
}
