// An image's versions (its lineage: regenerated, edited, cropped, drawn on): one read of
// GET /v1/embeds/{id}/versions per lineage, kept until a version it does not know shows up (a
// new card renders, over the socket's message_created or this tab's own request) or one changes
// state (it finished), or a version is deleted. Cards and the viewer listen and redraw what they
// show of that lineage. It owns the lineages read and their listeners.
import { api, embedContent } from "./api.js";

const lists = new Map(); // rootId -> promise of the versions, oldest first
const listeners = new Set();

export const KIND_LABELS = { generated: "Generated", regenerated: "Regenerated", edited: "Edited",
                             cropped: "Cropped", drawn: "Drawn on", uploaded: "Uploaded" };

/** The lineage of an image (its content or any version row), oldest first; [] outside one. */
export function lineage(content) {
  const rootId = content?.root_id;
  if (!rootId) return Promise.resolve([]);
  if (!lists.has(rootId)) {
    const promise = api(`/v1/embeds/${content.embed_id}/versions`).then((body) => body.versions);
    promise.catch(() => lists.delete(rootId));
    lists.set(rootId, promise);
  }
  return lists.get(rootId);
}

/** The versions one can look at (finished ones), oldest first. */
export async function finishedVersions(content) {
  return (await lineage(content)).filter((version) => version.status === "finished");
}

/** Whether an image has other versions worth reading about (its count says so, or its lineage
 * is read already and holds more than it). */
export function mayHaveVersions(content) {
  return Boolean(content?.root_id) && (content.version_count > 1 || lists.has(content.root_id));
}

/** A version was seen (a card rendered it): read its lineage again if that did not know it in
 * this state, and tell the listeners. */
export async function noteVersion(content) {
  const rootId = content?.root_id;
  if (!rootId) return;
  if (!lists.has(rootId)) {
    // A lineage nothing has read yet: read it if this version says it has others (a new version
    // whose card came first, while the cards of its elder versions still think they are alone).
    if (content.version_count > 1) forgetLineage(rootId, content.embed_id);
    return;
  }
  const known = (await lists.get(rootId).catch(() => [])).find((v) => v.embed_id === content.embed_id);
  if (known && known.status === content.status) return;
  forgetLineage(rootId, content.embed_id);
}

/** Read a lineage again (after a version was made or deleted) and tell the listeners. */
export function forgetLineage(rootId, anyVersionId = rootId) {
  if (!rootId) return;
  lists.delete(rootId);
  const promise = lineage({ root_id: rootId, embed_id: anyVersionId });
  promise.then(() => { for (const listener of listeners) listener(rootId); }, () => {});
}

/** Versions were deleted: their lineage is read afresh, and so is the content of the ones left
 * (their parent and root may have changed), before the chat shows them again. */
export async function afterDelete(versions, deletedIds) {
  const rootIds = new Set(versions.map((version) => version.root_id));
  for (const rootId of rootIds) lists.delete(rootId);
  const left = versions.filter((version) => !deletedIds.includes(version.embed_id));
  await Promise.allSettled(left.map((version) => embedContent(version.embed_id, { fresh: true })));
}

/** ``listener(rootId)`` runs whenever a lineage was read again. */
export function onLineageChange(listener) {
  listeners.add(listener);
}
