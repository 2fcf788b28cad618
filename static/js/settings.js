// The settings page: copy a new API key, confirm destructive forms. A file of its own, not an
// inline script: the pages' Content-Security-Policy runs scripts from our origin only.
document.querySelectorAll("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
  const text = document.querySelector(button.dataset.copy).textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(document.querySelector(button.dataset.copy));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected — press Ctrl+C";
  }
}));
// Destructive forms ask first (a dialog; without JavaScript the server still needs the POST).
const dialog = document.querySelector("[data-testid=confirm-dialog]");
document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (event) => {
  if (form.dataset.confirmed === "yes") return;
  event.preventDefault();
  dialog.querySelector(".confirm-text").textContent = form.dataset.confirm;
  dialog.querySelector("[data-testid=confirm-ok]").textContent = form.dataset.confirmAction || "Confirm";
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue !== "confirm") return;
    form.dataset.confirmed = "yes";
    form.requestSubmit();
  };
  dialog.showModal();
}));
