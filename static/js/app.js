// The chat page's entry point: wires the modules together and starts. Each module owns its own
// part: chat-list.js (the chats, which is open, the drawer), messages.js (the open chat's
// messages), composer.js (the message box and attachments), skills.js (the chat skills, one
// socket frame each), live.js (the socket and the other tabs), viewer.js with crop.js, draw.js,
// mask.js and sketch.js (the fullscreen viewer and its tools), embeds.js (the cards).
import { api } from "./api.js";
import { configureChatList, currentChatId, loadChats, setDrawer } from "./chat-list.js";
import * as composer from "./composer.js";
import { ask, choose } from "./dialogs.js";
import { emptyState } from "./empty-state.js";
import { configureEmbeds, updateTask } from "./embeds.js";
import { socket } from "./live.js";
import { configureMessages, imageIds, reloadChat, selectChat } from "./messages.js";
import * as skills from "./skills.js";
import { run, showError, showNote } from "./status.js";
import { announce } from "./tabs.js";
import { afterDelete } from "./versions.js";
import { configureViewer, openViewer } from "./viewer.js";

window.__omi = { socket, get chatId() { return currentChatId(); } };

configureMessages({ emptyState: () => emptyState(composer.loadedModels(), composer.setText) });
configureChatList({ select: selectChat, done: composer.focusComposer });

configureEmbeds({
  openViewer,
  hooks: {
    retry: (content) => composer.retry(content),
    regenerate: (content) => run(() => skills.report(content)),
    cancel: (taskId) => run(() => socket.request({ type: "cancel", task_id: taskId }).then((r) => updateTask(r.payload))),
  },
});

configureViewer({
  ids: imageIds,
  actions: {
    attachBlob: (blob, name, derivedFrom, region = null) =>
      composer.attachFiles([new File([blob], name, { type: blob.type })], derivedFrom, region)
        .then(composer.focusComposer),
    edit: (embedId, prompt, mask) => run(() => skills.edit(embedId, prompt, mask)),
    findSimilar: (embedId) => run(() => skills.findSimilar(embedId)),
    crop: (embedId, rect, ratio) => run(() => skills.crop(embedId, rect, ratio)),
    // Again means different: the server draws a fresh seed unless the user pinned one.
    regenerate: (content) => run(async () => {
      await skills.regenerate(content);
      composer.focusComposer();
    }),
    report: (content) => skills.report(content).catch((error) => { showError(error.message); return false; }),
    copyPrompt: async (content) => {
      try {
        await navigator.clipboard.writeText(content.prompt);
        showNote("Prompt copied.", { seconds: 4 });
      } catch {
        showNote(`Copy failed; the prompt is: ${content.prompt}`);
      }
    },
    editPrompt: composer.editPrompt,
    // One version, or (from the first version of several) all of them: "one", "all" or null.
    confirmDelete: async (content, versions = []) => {
      const gone = "It is removed from every chat it appears in, with its files. This cannot be undone.";
      const others = versions.length - 1;
      if (others > 0 && content.root_id === content.embed_id) {
        const answer = await choose({
          title: `Delete all ${versions.length} versions?`, ok: `Delete all ${versions.length} versions`,
          alt: "Only this one", danger: true,
          text: `This is the first version of this image; ${others} more ${others === 1 ? "was" : "were"} made from it. ${gone}`,
        });
        return { ok: "all", alt: "one" }[answer] || null;
      }
      const answer = await ask({
        title: others > 0 ? "Delete this version?" : "Delete this image?", ok: "Delete", danger: true,
        text: others > 0 ? `The other ${others === 1 ? "version stays" : `${others} versions stay`}. ${gone}` : gone,
      });
      return answer === null ? null : "one";
    },
    deleteImage: (content, scope, versions = []) => run(async () => {
      const all = scope === "all";
      await api(`/v1/embeds/${content.embed_id}${all ? "?lineage=all" : ""}`, { method: "DELETE" });
      await afterDelete(versions, all ? versions.map((v) => v.embed_id) : [content.embed_id]);
      await reloadChat();
      announce(currentChatId());
      showNote(all ? `${versions.length} versions deleted.` : versions.length > 1 ? "Version deleted." : "Image deleted.",
               { seconds: 5 });
      composer.focusComposer();
    }),
  },
});

document.querySelector("#app [data-testid=new-chat]").addEventListener("click", () => {
  setDrawer(false);
  selectChat(null);
  composer.focusComposer();
});

composer.loadModels().catch((error) => showError(`Models could not be loaded: ${error.message}`));
composer.focusComposer(); // ready to type, as in every chat app
loadChats()
  .then((chats) => selectChat(currentChatId() || chats[0]?.chat_id || null))
  .catch((error) => {
    showError(`Your chats could not be loaded: ${error.message}`);
    selectChat(currentChatId());
  });
