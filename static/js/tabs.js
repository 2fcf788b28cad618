// Tabs of this browser tell each other when they changed a chat (uploads, renames and deletions
// make no socket event), over a BroadcastChannel. It owns the channel.

const channel = "BroadcastChannel" in window ? new BroadcastChannel("openmates-images") : null;

/** Tell the other tabs that ``chatId`` changed. */
export function announce(chatId) {
  channel?.postMessage({ type: "chat_changed", chat_id: chatId });
}

/** Call ``listener(chatId)`` when another tab changed a chat. */
export function onChatChanged(listener) {
  channel?.addEventListener("message", ({ data }) => {
    if (data?.type === "chat_changed") listener(data.chat_id);
  });
}
