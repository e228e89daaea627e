/**
 * Git's smart HTTP protocol for the fake's repositories, served by git itself: `git http-backend` run as a CGI
 * program per request (clone and fetch only; pushes are refused, tests write history through `git.ts`).
 * Protocol v2 (`Git-Protocol` header), gzip'd request bodies and partial-clone filters all work because git
 * does the work.
 */
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";

export interface GitCgiRequest {
  /** Directory holding `owner/name.git`. */
  projectRoot: string;
  /** `/owner/name.git/info/refs` or `/owner/name.git/git-upload-pack`. */
  pathInfo: string;
  query: string;
  remoteUser: string;
}

/** Runs `git http-backend` for one request and streams its answer into `res`. */
export function serveGitHttp(
  req: IncomingMessage,
  body: Readable,
  res: ServerResponse,
  cgi: GitCgiRequest,
): Promise<void> {
  return new Promise((resolve) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: cgi.projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: cgi.pathInfo,
      QUERY_STRING: cgi.query,
      REQUEST_METHOD: req.method ?? "GET",
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_USER: cgi.remoteUser,
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      SERVER_PROTOCOL: "HTTP/1.1",
      GATEWAY_INTERFACE: "CGI/1.1",
      // the fake serves clones only
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.receivepack",
      GIT_CONFIG_VALUE_0: "false",
    };
    if (req.headers["content-length"]) env.CONTENT_LENGTH = String(req.headers["content-length"]);
    if (req.headers["content-encoding"]) env.HTTP_CONTENT_ENCODING = String(req.headers["content-encoding"]);
    if (req.headers["git-protocol"]) env.GIT_PROTOCOL = String(req.headers["git-protocol"]);

    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const stderr: Buffer[] = [];
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on("error", () => {});
    body.pipe(child.stdin);

    let header = Buffer.alloc(0);
    let headersSent = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      header = Buffer.concat([header, chunk]);
      const end = header.indexOf("\r\n\r\n");
      const endLf = header.indexOf("\n\n");
      const cut = end >= 0 ? { at: end, length: 4 } : endLf >= 0 ? { at: endLf, length: 2 } : null;
      if (!cut) return;
      let status = 200;
      for (const line of header.subarray(0, cut.at).toString("latin1").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 200;
        else res.setHeader(name, value);
      }
      res.statusCode = status;
      headersSent = true;
      const rest = header.subarray(cut.at + cut.length);
      if (rest.length > 0) res.write(rest);
    });
    child.on("error", (error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`git http-backend failed: ${error.message}\n`);
      resolve();
    });
    child.on("close", (code) => {
      if (!headersSent) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`git http-backend exited ${code}: ${Buffer.concat(stderr).toString("utf8")}\n`);
      } else {
        res.end();
      }
      resolve();
    });
  });
}
