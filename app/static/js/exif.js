// Removing hidden data (place, time, camera, owner) from photos before they
// are encrypted, without re-encoding a single pixel.
//
// A phone's JPEG carries EXIF (often with GPS coordinates), XMP, IPTC and
// maker data beside the picture, and sometimes whole extra images or a video
// after it; a PNG can carry text and EXIF chunks. Any of it can identify the
// applicant or where he is. We parse the file's structure and keep only what
// draws the picture. The result is a Blob made of slices of the original
// File, so nothing is copied into memory however large the photo is.
//
// Kept in a JPEG: JFIF (APP0), the colour profile (APP2 ICC_PROFILE), Adobe
// colour data (APP14), every table and the image data. Dropped: every other
// APPn segment (EXIF and XMP in APP1, IPTC in APP13, MPF and maker notes),
// comments, and anything after the end of the image.
// Kept in a PNG: every chunk but tEXt, iTXt, zTXt, eXIf and tIME; nothing
// after IEND.
// Kept in a WebP: the chunks that draw the picture (VP8, VP8L, VP8X, ALPH,
// ANIM, ANMF) and the colour profile (ICCP); dropped: EXIF, XMP, every
// unknown chunk, and anything after the RIFF container. Only two header
// fields are rewritten: the RIFF size, and the EXIF and XMP flags in VP8X.
// The colour profile is kept in all three formats, as in JPEG: without it
// the colours change, and it is the same file on every phone of a model
// (it may name the maker, never a place, a time or one device).
//
// Anything else (HEIC, video, PDF, a broken image) comes back as it is, with
// `kind` null or `failed` set: the page must then ask him, file by file,
// before it sends the file (intake-page.js never passes one silently).

const WINDOW = 1 << 20;

class BadImage extends Error {}

/** Reads a Blob in windows, so parsing costs a few reads, not one per field. */
class Reader {
  constructor(blob) {
    this.blob = blob;
    this.start = 0;
    this.bytes = new Uint8Array(0);
  }

  async at(position, length) {
    if (position < 0 || position + length > this.blob.size) throw new BadImage("truncated");
    if (position < this.start || position + length > this.start + this.bytes.length) {
      const end = Math.min(this.blob.size, position + Math.max(length, WINDOW));
      this.bytes = new Uint8Array(await this.blob.slice(position, end).arrayBuffer());
      this.start = position;
    }
    return this.bytes.subarray(position - this.start, position - this.start + length);
  }
}

const ascii = (bytes) => String.fromCharCode(...bytes);

function keepJpegSegment(marker, head) {
  const id = ascii(head);
  if (marker === 0xe0) return id.startsWith("JFIF\0");
  if (marker === 0xe2) return id.startsWith("ICC_PROFILE\0");
  if (marker === 0xee) return id.startsWith("Adobe");
  return !(marker >= 0xe0 && marker <= 0xef) && marker !== 0xfe;
}

const DROPPED_NAMES = { 0xe1: "EXIF/XMP", 0xed: "IPTC", 0xfe: "comment" };

async function jpegRanges(file) {
  const r = new Reader(file);
  const keep = [];
  const removed = new Set();
  let pos = 2; // after SOI
  keep.push([0, 2]);
  let inScan = false;
  for (;;) {
    if (inScan) {
      // Entropy-coded data: find the next marker (0xFF not followed by 0x00 or RSTn).
      const from = pos;
      for (;;) {
        const chunk = await r.at(pos, Math.min(WINDOW, file.size - pos));
        let i = chunk.indexOf(0xff);
        while (i !== -1 && i + 1 < chunk.length) {
          const next = chunk[i + 1];
          if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
          i = chunk.indexOf(0xff, i + 1);
        }
        if (i !== -1 && i + 1 < chunk.length) {
          pos += i;
          break;
        }
        // No marker in this window (or 0xFF at its very end): move on, re-reading that byte.
        const advance = i === -1 ? chunk.length : Math.max(i, 1);
        pos += advance;
        if (pos >= file.size - 1) throw new BadImage("no end of image");
      }
      keep.push([from, pos]);
      inScan = false;
    }
    const head = await r.at(pos, 2);
    if (head[0] !== 0xff) throw new BadImage("not a marker");
    const marker = head[1];
    if (marker === 0xff) { pos += 1; continue; } // fill byte
    if (marker === 0xd9) { keep.push([pos, pos + 2]); break; } // EOI: drop whatever follows
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { keep.push([pos, pos + 2]); pos += 2; continue; }
    const lengthBytes = await r.at(pos + 2, 2);
    const length = (lengthBytes[0] << 8) | lengthBytes[1];
    if (length < 2) throw new BadImage("bad segment length");
    const end = pos + 2 + length;
    if (end > file.size) throw new BadImage("truncated segment");
    const id = await r.at(pos + 4, Math.min(14, length - 2));
    if (keepJpegSegment(marker, id)) keep.push([pos, end]);
    else removed.add(DROPPED_NAMES[marker] || `APP${marker - 0xe0}`);
    pos = end;
    if (marker === 0xda) inScan = true; // SOS: its image data follows the header
  }
  if (pos + 2 < file.size) removed.add("trailing data");
  return { keep, removed };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_DROP = new Set(["tEXt", "iTXt", "zTXt", "eXIf", "tIME"]);

async function pngRanges(file) {
  const r = new Reader(file);
  const keep = [[0, 8]];
  const removed = new Set();
  let pos = 8;
  for (;;) {
    const head = await r.at(pos, 8);
    const length = ((head[0] << 24) >>> 0) + (head[1] << 16) + (head[2] << 8) + head[3];
    const type = ascii(head.subarray(4, 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw new BadImage("bad chunk type");
    const end = pos + 12 + length;
    if (end > file.size) throw new BadImage("truncated chunk");
    if (PNG_DROP.has(type)) removed.add(type);
    else keep.push([pos, end]);
    pos = end;
    if (type === "IEND") break;
  }
  if (pos < file.size) removed.add("trailing data");
  return { keep, removed };
}

const WEBP_KEEP = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP"]);
const WEBP_PICTURE = new Set(["VP8 ", "VP8L", "ANMF"]);
const VP8X_EXIF_AND_XMP = 0x08 | 0x04; // flags in VP8X's first byte
const le32 = (bytes, at) => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;

async function webpParts(file) {
  const r = new Reader(file);
  const head = await r.at(0, 12);
  const riffEnd = 8 + le32(head, 4);
  if (riffEnd > file.size || riffEnd < 20) throw new BadImage("truncated container");
  const parts = [];
  const removed = new Set();
  let vp8x = null;
  let pictures = 0;
  let pos = 12;
  while (pos < riffEnd) {
    const chunk = await r.at(pos, 8);
    const type = ascii(chunk.subarray(0, 4));
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw new BadImage("bad chunk type");
    const size = le32(chunk, 4);
    const body = pos + 8 + size;
    if (body > riffEnd) throw new BadImage("truncated chunk");
    const end = Math.min(body + (size & 1), riffEnd); // odd sizes carry a pad byte
    if (type === "VP8X") {
      if (pos !== 12 || size < 10) throw new BadImage("misplaced VP8X");
      // A copy, so its EXIF and XMP flags can be cleared (they must match the chunks kept).
      vp8x = (await r.at(pos, end - pos)).slice();
      vp8x[8] &= ~VP8X_EXIF_AND_XMP;
      parts.push(vp8x);
    } else if (WEBP_KEEP.has(type)) {
      if (WEBP_PICTURE.has(type)) pictures += 1;
      parts.push([pos, end]);
    } else removed.add(type.trim() || "unnamed chunk");
    pos = end;
  }
  if (pictures === 0) throw new BadImage("no picture");
  if (riffEnd < file.size) removed.add("trailing data");
  return { parts, removed };
}

/** Blob parts: [start, end) ranges of the file, or bytes written anew. */
function webpBlobParts(file, parts) {
  const slices = parts.map((part) => (part instanceof Uint8Array ? part : file.slice(part[0], part[1])));
  const size = 4 + slices.reduce((sum, part) => sum + (part.byteLength ?? part.size), 0);
  const header = new Uint8Array(12);
  header.set([0x52, 0x49, 0x46, 0x46], 0); // "RIFF"
  new DataView(header.buffer).setUint32(4, size, true); // the new RIFF size: what follows it
  header.set([0x57, 0x45, 0x42, 0x50], 8); // "WEBP"
  return [header, ...slices];
}

function merge(ranges) {
  const out = [];
  for (const [a, b] of ranges) {
    if (b <= a) continue;
    const last = out[out.length - 1];
    if (last && last[1] === a) last[1] = b;
    else out.push([a, b]);
  }
  return out;
}

/** "jpeg", "png", "webp" or null, from the file's first bytes (never its name or declared type). */
export async function imageKind(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (head.length >= 8 && PNG_SIGNATURE.every((b, i) => head[i] === b)) return "png";
  if (head.length === 12 && ascii(head.subarray(0, 4)) === "RIFF" && ascii(head.subarray(8, 12)) === "WEBP") return "webp";
  return null;
}

/**
 * The file without its hidden data.
 * Returns {blob, kind, removed: [names], failed: bool}. For anything that is
 * not a JPEG, PNG or WebP, or that cannot be parsed, `blob` is the file
 * itself (and `failed` says so for a broken image): the caller must not
 * take that file as cleaned.
 */
export async function stripMetadata(file) {
  const kind = await imageKind(file);
  if (kind === null) return { blob: file, kind, removed: [], failed: false };
  try {
    let parts;
    let removed;
    if (kind === "webp") {
      const found = await webpParts(file);
      removed = found.removed;
      parts = webpBlobParts(file, found.parts);
    } else {
      const found = kind === "jpeg" ? await jpegRanges(file) : await pngRanges(file);
      removed = found.removed;
      parts = merge(found.keep).map(([a, b]) => file.slice(a, b));
    }
    if (removed.size === 0) return { blob: file, kind, removed: [], failed: false };
    return { blob: new Blob(parts, { type: file.type }), kind, removed: [...removed], failed: false };
  } catch (error) {
    if (!(error instanceof BadImage)) throw error;
    return { blob: file, kind, removed: [], failed: true };
  }
}
