/**
 * A unified diff that adds one huge file, generated as a stream (never held whole): a `diff --git` header, one
 * hunk of `+` lines of text, and a token planted every `plantEveryBytes`. Chunks are views of a few prebuilt
 * buffers, so generating costs next to nothing and memory measured while scanning is the scanner's own.
 */
import { mintAzdo } from "../src/tokens/index.js";

export interface HugeDiffPlan {
  totalBytes: number;
  /** A token goes into one line of the chunk that starts at each multiple of this. */
  plantEveryBytes: number;
  chunkBytes?: number;
  /** Line ending of every added line. */
  crlf?: boolean;
}

export interface PlantedToken {
  token: string;
  /** New-file line number of the line that holds it. */
  line: number;
  /** 1-based byte column. */
  column: number;
}

const PATH = "data/huge.txt";
const LINE_TEXT =
  "the quick brown fox jumps over the lazy dog 0123456789 lorem ipsum dolor sit amet, consectetur adipiscing";

export function hugeDiff(plan: HugeDiffPlan): {
  path: string;
  planted: PlantedToken[];
  chunks(): AsyncGenerator<Buffer>;
} {
  const eol = plan.crlf ? "\r\n" : "\n";
  const line = `+${LINE_TEXT}${eol}`;
  const chunkBytes = plan.chunkBytes ?? 1024 * 1024;
  const linesPerChunk = Math.max(1, Math.floor(chunkBytes / line.length));
  const plain = Buffer.from(line.repeat(linesPerChunk));
  // Every chunk has the same lines of the same length, so the hunk header can count them exactly up front.
  const chunkCount = Math.ceil(plan.totalBytes / plain.length);
  const header = Buffer.from(
    `diff --git a/${PATH} b/${PATH}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/${PATH}\n` +
      `@@ -0,0 +1,${chunkCount * linesPerChunk} @@\n`,
  );
  const planted: PlantedToken[] = [];
  const prefix = "+key = ";
  const pad = (text: string) => text + " ".repeat(line.length - eol.length - text.length) + eol;
  return {
    path: PATH,
    planted,
    async *chunks() {
      yield header;
      let sent = 0;
      let lineNumber = 0;
      let nextPlant = 0;
      for (let i = 0; i < chunkCount; i++) {
        if (sent >= nextPlant) {
          // A fresh chunk with its middle line replaced by one holding a token (same length lines elsewhere).
          const token = mintAzdo();
          const middle = Math.floor(linesPerChunk / 2);
          const holder = pad(`${prefix}${token}`);
          const chunk = Buffer.from(line.repeat(middle) + holder + line.repeat(linesPerChunk - middle - 1));
          planted.push({ token, line: lineNumber + middle + 1, column: prefix.length });
          nextPlant += plan.plantEveryBytes;
          sent += chunk.length;
          lineNumber += linesPerChunk;
          yield chunk;
        } else {
          sent += plain.length;
          lineNumber += linesPerChunk;
          yield plain;
        }
      }
    },
  };
}

/** The chunks of `source`, counting their bytes and sampling this process's peak RSS every `sampleEvery` chunks. */
export function measuredChunks(source: AsyncIterable<Buffer>, sampleEvery: number) {
  const stats = { bytes: 0, baseline: process.memoryUsage.rss(), peak: 0 };
  stats.peak = stats.baseline;
  async function* chunks() {
    let count = 0;
    for await (const chunk of source) {
      stats.bytes += chunk.length;
      if (++count % sampleEvery === 0) stats.peak = Math.max(stats.peak, process.memoryUsage.rss());
      yield chunk;
    }
    stats.peak = Math.max(stats.peak, process.memoryUsage.rss());
  }
  return { chunks: chunks(), stats };
}
