/**
 * Inputs for the streaming tests that cross real chunk boundaries: multi-megabyte texts and diffs with a token
 * on (nearly) every line, built together with the findings a correct detector reports for them, and a way to
 * feed any input to the public StreamScanner in given chunk sizes.
 *
 * The expected findings are computed here from how the input was built, never by running the detector.
 */
import { type Finding, type ScanInput, type StreamLimits, StreamScanner } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";

/** Larger than any block the scanner gathers small chunks into (1 MiB today), so boundaries are real. */
export const BEYOND_COALESCING = 3 * 1024 * 1024;

export interface Corpus {
  bytes: Buffer;
  /** One line per finding: `fingerprint encoding commit path:line:column`. */
  expected: string[];
}

export const show = (findings: Finding[]): string[] =>
  findings.map((f) => `${f.fingerprint} ${f.encoding} ${f.commit} ${f.path}:${f.line}:${f.column}`);

export const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** Feeds `bytes` in chunks of the given sizes (cycled), each a fresh copy: the scanner may keep views. */
export function scanInChunks(
  bytes: Buffer,
  sizes: number[],
  input: ScanInput,
  limits: StreamLimits = {},
): Finding[] {
  const scanner = new StreamScanner(input, {}, limits);
  const out: Finding[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]);
    out.push(...scanner.push(Buffer.from(bytes.subarray(at, at + size))));
    at += size;
  }
  out.push(...scanner.end());
  return out;
}

/** Feeds exactly these pieces, in order. */
export function scanPieces(pieces: Buffer[], input: ScanInput, limits: StreamLimits = {}): Finding[] {
  const scanner = new StreamScanner(input, {}, limits);
  const out: Finding[] = [];
  for (const piece of pieces) out.push(...scanner.push(piece));
  out.push(...scanner.end());
  return out;
}

/** A token in one of the forms the detector knows, the text holding it and where the finding points. */
export interface PlacedToken {
  text: string;
  token: string;
  encoding: Finding["encoding"];
  /** 0-based offset in `text` of the reported column. */
  at: number;
}

/** The forms a token is written in, cycled through by the corpora. */
export const FORMS: ((k: number) => PlacedToken)[] = [
  () => {
    const token = mintAzdo();
    return { text: `key = "${token}";`, token, encoding: "plain", at: 7 };
  },
  () => {
    const token = mintLegacy();
    return { text: `pat: ${token}`, token, encoding: "plain", at: 5 };
  },
  () => {
    const token = mintAzdo({ long: true });
    return { text: `AZURE_PAT=${token}`, token, encoding: "plain", at: 10 };
  },
  () => {
    const token = mintLegacy();
    return { text: `Authorization: Basic ${b64(`:${token}`)}`, token, encoding: "basic-auth", at: 21 };
  },
  () => {
    const token = mintAzdo();
    return { text: `remote = https://build:${token}@dev.azure.com/org`, token, encoding: "url", at: 23 };
  },
  (k) => {
    // The key 3·k bytes into the decoded text: its column is the base64 group holding its start.
    const token = mintAzdo();
    const lead = "id ".repeat(k % 5);
    return { text: `blob: ${b64(`${lead}${token}`)}`, token, encoding: "base64", at: 6 + 4 * (k % 5) };
  },
];

/** A plain text of about `size` bytes with a token on nearly every line, in every form. */
export function denseText(size: number, path = "dense.txt"): Corpus {
  const lines: string[] = [];
  const expected: string[] = [];
  let length = 0;
  for (let k = 0; length < size; k++) {
    let line: string;
    if (k % 7 === 6) line = `# line ${k}: nothing secret here, just words to fill the line`;
    else {
      const placed = FORMS[k % FORMS.length](k);
      line = `${"  ".repeat(k % 3)}${placed.text}`;
      const column = 2 * (k % 3) + placed.at + 1;
      expected.push(`${fingerprint(placed.token)} ${placed.encoding} null ${path}:${k + 1}:${column}`);
    }
    lines.push(line);
    length += line.length + 1;
  }
  return { bytes: Buffer.from(`${lines.join("\n")}\n`), expected };
}

/**
 * A `git log -p` of about `size` bytes: many commits, files and hunks; tokens on added lines (found), on
 * removed and context lines (not found: only added lines count).
 */
export function denseLog(size: number): Corpus {
  const parts: string[] = [];
  const expected: string[] = [];
  let length = 0;
  let k = 0;
  for (let c = 0; length < size; c++) {
    const commit = c.toString(16).padStart(40, "0");
    const header = `commit ${commit}\nAuthor: T <t@example.com>\n\n    change ${c}\n\n`;
    parts.push(header);
    length += header.length;
    for (let f = 0; f < 3; f++) {
      const path = `src/c${c}/f${f}.cfg`;
      const fileHeader = `diff --git a/${path} b/${path}\nindex 1111111..2222222 100644\n--- a/${path}\n+++ b/${path}\n`;
      parts.push(fileHeader);
      length += fileHeader.length;
      for (let h = 0; h < 2; h++) {
        const start = 100 * h + 1;
        let newLine = start;
        const lines: string[] = [];
        for (let n = 0; n < 30; n++, k++) {
          const placed = FORMS[k % FORMS.length](k);
          const role = k % 11;
          if (role === 3) lines.push(`-${placed.text}`);
          else if (role === 7) {
            lines.push(` ${placed.text}`);
            newLine++;
          } else {
            lines.push(`+${placed.text}`);
            expected.push(
              `${fingerprint(placed.token)} ${placed.encoding} ${commit} ${path}:${newLine}:${placed.at + 1}`,
            );
            newLine++;
          }
        }
        const added = lines.filter((l) => !l.startsWith("-")).length;
        const removed = lines.filter((l) => !l.startsWith("+")).length;
        const hunk = `@@ -${start},${removed} +${start},${added} @@ section ${h}\n${lines.join("\n")}\n`;
        parts.push(hunk);
        length += hunk.length;
      }
    }
  }
  return { bytes: Buffer.from(parts.join("")), expected };
}

/**
 * One giant line of about `size` bytes that is all tokens, one space apart, so that wherever the scanner cuts
 * it the cut falls inside a token (a space is 1 byte in 86). Returns the line without its newline and the
 * findings on line `line`, columns counted from the line's first byte plus `columnShift`.
 */
export function giantTokenLine(
  size: number,
  options: { line: number; path: string; commit?: string; columnShift?: number },
): { text: string; expected: string[] } {
  const parts: string[] = [];
  const expected: string[] = [];
  let column = 1 + (options.columnShift ?? 0);
  for (let k = 0, length = 0; length < size; k++) {
    const token = k % 4 === 3 ? mintLegacy() : mintAzdo({ long: k % 4 === 1 });
    parts.push(token);
    expected.push(
      `${fingerprint(token)} plain ${options.commit ?? null} ${options.path}:${options.line}:${column}`,
    );
    column += token.length + 1;
    length += token.length + 1;
  }
  return { text: parts.join(" "), expected };
}

/**
 * One giant base64 line of about `size` bytes encoding keys one `:` apart; each finding's column is the
 * 4-character group holding its key's first byte.
 */
export function giantBase64Line(
  size: number,
  options: { line: number; path: string; columnShift?: number },
): { text: string; expected: string[] } {
  const tokens: string[] = [];
  const expected: string[] = [];
  let decodedAt = 0;
  while ((decodedAt * 4) / 3 < size) {
    const token = mintAzdo();
    tokens.push(token);
    const column = Math.floor(decodedAt / 3) * 4 + 1 + (options.columnShift ?? 0);
    expected.push(`${fingerprint(token)} base64 null ${options.path}:${options.line}:${column}`);
    decodedAt += token.length + 1;
  }
  return { text: b64(tokens.join(":")), expected };
}

/** A small deterministic generator (mulberry32), so a failing chunking can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Chunk sizes that mix what real sources give: single bytes, pipe-sized pieces and pieces larger than the
 * scanner's gathering size, in a random order.
 */
export function randomChunkSizes(random: () => number, count = 64): number[] {
  return Array.from({ length: count }, () => {
    const r = random();
    if (r < 0.15) return 1 + Math.floor(random() * 100);
    if (r < 0.55) return 1 + Math.floor(random() * 96 * 1024);
    return 512 * 1024 + Math.floor(random() * 2.5 * 1024 * 1024);
  });
}
