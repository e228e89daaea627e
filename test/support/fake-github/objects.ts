/**
 * Reads git objects through one long-running `git cat-file --batch` per repository, so resolving a sha or
 * branch, reading a commit or serving a blob costs no new process — the fake has to keep up with load tests.
 * git re-reads its pack directory when an object is missing, so objects written later are found; after a gc
 * (`prune`) the reader must be restarted, which `GitRepository` does.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

export interface GitObject {
  oid: string;
  type: "commit" | "tree" | "blob" | "tag";
  content: Buffer;
}

interface Pending {
  resolve(object: GitObject | null): void;
  reject(error: Error): void;
}

export class ObjectReader {
  private child: ChildProcessWithoutNullStreams | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending[] = [];

  constructor(private readonly gitDir: string) {}

  /** The object a name (sha, `branch`, `sha^{commit}`, ...) names, or null when there is none. */
  read(name: string): Promise<GitObject | null> {
    if (/[\n\r]/.test(name) || name === "") return Promise.resolve(null);
    const child = this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      child.stdin.write(`${name}\n`);
    });
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.stdin.end();
    child.kill();
    this.fail(new Error("object reader closed"));
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn("git", ["cat-file", "--batch"], {
      cwd: this.gitDir,
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.buffer = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    child.stderr.resume();
    child.stdin.on("error", () => {});
    child.on("close", () => {
      if (this.child === child) {
        this.child = undefined;
        this.fail(new Error("git cat-file --batch exited"));
      }
    });
    this.child = child;
    return child;
  }

  private drain(): void {
    while (this.pending.length > 0) {
      const eol = this.buffer.indexOf(0x0a);
      if (eol < 0) return;
      const header = this.buffer.subarray(0, eol).toString("utf8");
      const match = /^([0-9a-f]{40}) (commit|tree|blob|tag) (\d+)$/.exec(header);
      if (!match) {
        // "<name> missing" or "<name> ambiguous"
        this.buffer = this.buffer.subarray(eol + 1);
        this.pending.shift()!.resolve(null);
        continue;
      }
      const size = Number(match[3]);
      if (this.buffer.length < eol + 1 + size + 1) return;
      const content: Buffer = Buffer.from(this.buffer.subarray(eol + 1, eol + 1 + size));
      this.buffer = this.buffer.subarray(eol + 1 + size + 1);
      this.pending.shift()!.resolve({ oid: match[1], type: match[2] as GitObject["type"], content });
    }
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.reject(error);
  }
}
