/** Files and directories on disk, walked recursively (skipping `.git`), each read as a stream. */
import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";

export interface FileSource {
  path: string;
  open(): Readable;
}

/** Every regular file under the given paths, in a stable order. */
export async function* walkFiles(paths: readonly string[]): AsyncGenerator<FileSource> {
  for (const p of paths) {
    const info = await stat(p);
    if (info.isDirectory()) yield* walkDirectory(p);
    else if (info.isFile()) yield fileSource(p);
  }
}

async function* walkDirectory(dir: string): AsyncGenerator<FileSource> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== ".git") yield* walkDirectory(p);
    } else if (e.isFile()) yield fileSource(p);
  }
}

function fileSource(p: string): FileSource {
  return { path: p, open: () => createReadStream(p, { highWaterMark: 1024 * 1024 }) };
}

export interface ReadAheadOptions {
  /** Bytes per read (default 8 MiB). */
  chunkBytes?: number;
  /** Reads in flight while the consumer works on the current chunk (default 2). */
  readAhead?: number;
}

/**
 * Reads a file in large chunks with reads in flight while the consumer works, so reading (on libuv's
 * threads) overlaps scanning. Buffers are reused, because first-touching fresh memory costs as much as the
 * read: a chunk is valid until the next one is asked for (the detector's StreamScanner copies what it keeps).
 */
export async function* readAhead(file: string, options: ReadAheadOptions = {}): AsyncGenerator<Buffer> {
  const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
  const inFlight = Math.max(1, options.readAhead ?? 2);
  const handle = await open(file, "r");
  const free: Buffer[] = [];
  const reads: Promise<{ buffer: Buffer; bytesRead: number }>[] = [];
  let position = 0;
  let atEnd = false;
  const issue = () => {
    if (atEnd) return;
    const buffer = free.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
    reads.push(handle.read(buffer, 0, chunkBytes, position).then(({ bytesRead }) => ({ buffer, bytesRead })));
    position += chunkBytes;
  };
  try {
    for (let i = 0; i < inFlight; i++) issue();
    while (reads.length > 0) {
      const { buffer, bytesRead } = await reads.shift()!;
      // Reads issued past a short read (the end of the file) are not delivered: chunks stay in order, no gaps.
      if (atEnd) continue;
      if (bytesRead < chunkBytes) atEnd = true;
      else issue();
      if (bytesRead > 0) yield buffer.subarray(0, bytesRead);
      free.push(buffer);
    }
  } finally {
    // Let reads still in flight finish before closing (the consumer may stop early).
    await Promise.allSettled(reads);
    await handle.close();
  }
}
