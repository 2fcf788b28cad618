// The three renditions of a private upload, as the server makes them for a vault upload:
// the original re-encoded (a photo stays JPEG, anything else becomes lossless PNG), the full
// WEBP and a preview within 600×400. One plan for both encoders: the Web Worker's
// OffscreenCanvas (private-encode-worker.js) and the page's canvas (the fallback).
// A canvas re-encode carries pixels only: EXIF (GPS, camera), XMP and ICC text are gone.

const PREVIEW = { width: 600, height: 400 }; // the server's preview size limit
const ORIGINAL_QUALITY = 0.95;
const FULL_QUALITY = 0.92;
const PREVIEW_QUALITY = 0.8;

export const UNREADABLE = "This file could not be read as an image.";

/** Decode a file with its orientation applied (what a viewer shows). */
export function decode(file) {
  return createImageBitmap(file, { imageOrientation: "from-image" }).catch(() => { throw new Error(UNREADABLE); });
}

/**
 * Encode ``bitmap`` three times with ``encode(bitmap, width, height, type, quality)`` (which
 * returns a Blob); ``fileType`` is the upload's MIME type. Returns {variant: {blob, width, height}}.
 */
export async function renderAll(bitmap, fileType, encode) {
  const { width, height } = bitmap;
  const scale = Math.min(1, PREVIEW.width / width, PREVIEW.height / height);
  const small = { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  const originalType = fileType === "image/jpeg" ? "image/jpeg" : "image/png";
  return {
    original: { blob: await encode(bitmap, width, height, originalType, ORIGINAL_QUALITY), width, height },
    full: { blob: await encode(bitmap, width, height, "image/webp", FULL_QUALITY), width, height },
    preview: { blob: await encode(bitmap, small.width, small.height, "image/webp", PREVIEW_QUALITY), ...small },
  };
}
