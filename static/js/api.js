// REST calls with the session cookie and CSRF token; errors keep the API's {code, message, field}.
import { embedKey, withKey } from "./hybrid-embeds.js";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `Request failed (${status})`);
    this.status = status;
    this.code = error?.code || "error";
    this.field = error?.field || null;
  }
}

export async function api(path, { method = "GET", json, form } = {}) {
  const headers = { "X-CSRFToken": csrfToken() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data;
}

export function fileUrl(embedId, format = "preview") {
  return `/v1/embeds/${embedId}/file?format=${format}`;
}

const contentCache = new Map();
export function embedContent(embedId, { fresh = false } = {}) {
  if (fresh || !contentCache.has(embedId)) {
    // The hybrid flow (hybrid-embeds.js): the embed_key is looked for alongside the content.
    const promise = Promise.all([api(`/v1/embeds/${embedId}/content`), embedKey(embedId)])
      .then(([content, found]) => withKey(content, found));
    promise.catch(() => contentCache.delete(embedId));
    contentCache.set(embedId, promise);
  }
  return contentCache.get(embedId);
}

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}
