// The page's two dialogs: a small question (a confirmation, a choice of two, or one line of
// text) and the report form. Each resolves when its dialog closes; neither keeps state between
// uses.

const askDialog = document.querySelector("[data-testid=ask-dialog]");
const reportDialog = document.querySelector("[data-testid=report-dialog]");

/** A confirmation, or (with ``value``) one line of text. Resolves null on cancel. */
export function ask(options) {
  return question(options).then((answer) => (answer === null ? null : answer.value));
}

/** A choice of two actions besides Cancel (``ok``, the main one, and ``alt``): resolves "ok",
 * "alt", or null on cancel. */
export function choose({ title, text = "", ok, alt, danger = false }) {
  return question({ title, text, ok, alt, danger }).then((answer) => answer?.button ?? null);
}

function question({ title, text = "", value = null, label = "", ok = "OK", alt = null, danger = false }) {
  return new Promise((resolve) => {
    const form = askDialog.querySelector("form");
    const field = askDialog.querySelector(".ask-field");
    const okButton = askDialog.querySelector("[data-testid=ask-ok]");
    const altButton = askDialog.querySelector("[data-testid=ask-alt]");
    altButton.hidden = !alt;
    altButton.textContent = alt || "";
    askDialog.querySelector("#ask-title").textContent = title;
    askDialog.querySelector(".ask-text").textContent = text;
    askDialog.querySelector(".ask-text").hidden = !text;
    askDialog.querySelector(".ask-label").textContent = label;
    field.hidden = value === null;
    form.elements.value.value = value ?? "";
    okButton.textContent = ok;
    okButton.classList.toggle("danger", danger);
    okButton.classList.toggle("solid", danger);
    okButton.classList.toggle("primary", !danger);
    askDialog.returnValue = "";
    askDialog.onclose = () => {
      const button = askDialog.returnValue;
      resolve(button === "ok" || button === "alt" ? { button, value: form.elements.value.value } : null);
    };
    askDialog.showModal();
    if (value !== null) form.elements.value.select();
  });
}

/** The report form: {reason, regenerate}, or null when cancelled. */
export function askReport() {
  return new Promise((resolve) => {
    const form = reportDialog.querySelector("form");
    form.reset();
    reportDialog.returnValue = "";
    reportDialog.onclose = () => {
      if (reportDialog.returnValue !== "send") return resolve(null);
      resolve({ reason: form.elements.reason.value, regenerate: form.elements.regenerate.checked });
    };
    reportDialog.showModal();
  });
}
