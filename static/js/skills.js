// The chat's skills, each one socket frame: generate, regenerate, a question about images, a
// message with images only, and the viewer's edit, find similar, crop and report. The server
// validates the request and writes the exchange (the user's request, the assistant's reply with
// its embed) with its task, in one transaction, and makes the chat when this is its first
// exchange; so a refused request leaves nothing to undo here, only the local bubble to remove.
// No state of its own.
import { adoptChat, appendPending, follow, insertMessage, restoreEmptyState, syncMessages } from "./messages.js";
import { currentChatId, loadChatsSoon } from "./chat-list.js";
import { askReport } from "./dialogs.js";
import { updateTask } from "./embeds.js";
import { socket } from "./live.js";
import { showNote } from "./status.js";
import { announce } from "./tabs.js";

const REPORT_REASONS = { artifacts: "artifacts", wrong_content: "not what I asked for", offensive: "offensive",
                         other: "something else" };

// Crops and masks decode an image in the web process, which may wait for image memory first
// (IMAGE_QUEUE_SECONDS): their answer may take longer than a task's.
const IMAGE_WORK_TIMEOUT_MS = 60000;

/** Send one skill's frame into the open chat (or a new one) with a local bubble saying
 * ``pendingText`` until the server's exchange is shown. Resolves {response, messages}. */
async function exchange(frame, pendingText, { timeout } = {}) {
  const chatAtStart = currentChatId();
  const pending = appendPending(pendingText);
  let response;
  try {
    response = await socket.request({ ...frame, chat_id: chatAtStart }, timeout ? { timeout } : {});
  } catch (error) {
    pending.remove();
    restoreEmptyState();
    if (error?.code === "disconnected" && socket.everConnected) {
      // It may have arrived before the line dropped; the catch-up after reconnecting shows it.
      throw { message: "The connection dropped while sending. If the request got through, the answer appears here in a moment; otherwise please try again." };
    }
    throw error;
  }
  if (response.payload?.task_id) updateTask(response.payload);
  const chatId = response.message.chat_id;
  if (!chatAtStart && currentChatId() === null && pending.isConnected) adoptChat(chatId);
  let messages = [];
  if (currentChatId() === chatId) {
    messages = await syncMessages().catch(() => []);
    insertMessage(response.message); // in case the re-read failed
  }
  pending.remove();
  if (currentChatId() === chatId) follow();
  loadChatsSoon();
  announce(chatId);
  return { response, messages };
}

/** Make an image from a prompt (with the composer's choices and any attached images); ``n`` > 1
 * makes that many variants, which the reply shows as a row of tiles; ``referenceIds``: attached
 * images the model draws on. */
export function generate(prompt, { aspect_ratio, model, n = 1, embedIds = [], referenceIds = [] } = {}) {
  return exchange({
    type: "generate", prompt, aspect_ratio, model,
    ...(n > 1 ? { n } : {}),
    ...(referenceIds.length ? { reference_embed_ids: referenceIds } : {}),
    ...(embedIds.length ? { embed_ids: embedIds } : {}),
  }, prompt);
}

/** One of the user's images made again (a fresh seed, unless the user pinned one). */
export function regenerate(content) {
  return exchange({ type: "regenerate", embed_id: content.embed_id }, `Regenerate: ${content.prompt}`);
}

/** A question about attached images: about the first, or (``drawn``) the region drawn on it. */
export function askAbout(question, embedIds, drawn = null) {
  return exchange({
    type: "analyze", question, embed_ids: embedIds,
    embed_id: drawn ? drawn.embedId : embedIds[0], ...(drawn ? { region: drawn.region } : {}),
  }, question);
}

/** Images sent without words: the assistant asks what to look at. */
export function sendImages(embedIds) {
  const text = embedIds.length === 1 ? "Sending an image…" : `Sending ${embedIds.length} images…`;
  return exchange({ type: "message", text: "", embed_ids: embedIds }, text);
}

/** The viewer's Mark to edit: ``mask`` is a PNG data URL at the original's size. */
export function edit(embedId, prompt, mask) {
  return exchange({ type: "edit", embed_id: embedId, prompt, mask }, `Edit: ${prompt}`,
                  { timeout: IMAGE_WORK_TIMEOUT_MS });
}

/** The viewer's Find similar on the web. */
export function findSimilar(embedId) {
  return exchange({ type: "reverse_search", embed_id: embedId }, "Find similar images on the web");
}

/** The viewer's Crop: ``rect`` in the original's pixels, ``ratio`` the aspect lock's name. */
export function crop(embedId, rect, ratio) {
  return exchange({ type: "crop", embed_id: embedId, ...rect, ratio }, `Crop (${ratio})`,
                  { timeout: IMAGE_WORK_TIMEOUT_MS });
}

/** Report a problem (and by default make it again from the same request). True if sent. */
export async function report(content) {
  const choice = await askReport();
  if (!choice) return false;
  const reason = REPORT_REASONS[choice.reason] || choice.reason;
  const frame = { type: "report", embed_id: content.embed_id, ...choice };
  if (choice.regenerate) await exchange(frame, `Reported a problem (${reason}) — generate it again`);
  else {
    await socket.request(frame);
    showNote(`Thanks — your report (${reason}) was sent.`);
  }
  return true;
}
