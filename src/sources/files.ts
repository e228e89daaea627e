/** Files and directories on disk, walked recursively (skipping `.git`), each read as a stream. */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
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
