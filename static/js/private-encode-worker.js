// A private upload's renditions, encoded off the main thread (OffscreenCanvas): a large photo's
// three re-encodes take long enough to freeze the page. private-upload.js posts
// {id, file} and gets {id, out} or {id, error, unreadable}; it falls back to the page's canvas
// when this worker cannot run or fails for any reason but an unreadable file.
import { UNREADABLE, decode, renderAll } from "./private-renditions.js";

function encode(bitmap, width, height, type, quality) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  return canvas.convertToBlob({ type, quality });
}

self.addEventListener("message", async ({ data: { id, file } }) => {
  let bitmap = null;
  try {
    bitmap = await decode(file);
    self.postMessage({ id, out: await renderAll(bitmap, file.type, encode) });
  } catch (error) {
    self.postMessage({ id, error: String(error?.message || error), unreadable: error?.message === UNREADABLE });
  } finally {
    bitmap?.close();
  }
});
