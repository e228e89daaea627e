/**
 * The web server's own defences, over real sockets: security headers, a slow client cut off, a connection
 * limit, and a request log that never holds a query string.
 */
import { connect, type Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWebServer } from "../../src/web/server.js";
import { ADMIN_KEY, openTestIssuer, type TestIssuer } from "../support/issuer.js";

let issuer: TestIssuer;
let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  issuer = await openTestIssuer();
  app = await buildWebServer({
    config: issuer.config,
    logger: issuer.logger,
    store: issuer.store,
    limits: { requestTimeoutMs: 400, timeoutCheckIntervalMs: 100, maxConnections: 3 },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app.close();
  await issuer.close();
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

/** Resolves with how long the server took to end the connection. */
function closedWithin(socket: Socket, ms: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.on("error", () => {});
  });
}

describe("web server hardening", () => {
  it("sends security headers", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("strict-transport-security")).toMatch(/max-age=/);
    expect(response.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
  });

  it("cuts off a client that trickles its body", async () => {
    const socket = await open();
    socket.write(
      "POST /_apis/patrol/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    const trickle = setInterval(() => socket.write(" "), 50);
    try {
      const took = await closedWithin(socket, 5_000);
      expect(took).toBeLessThan(5_000);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it("holds at most the configured number of connections", async () => {
    const sockets = await Promise.all([open(), open(), open()]);
    try {
      const extra = await open();
      await closedWithin(extra, 2_000);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it("never logs a query string, which may carry a key", async () => {
    const secret = "query-secret-0123456789";
    const response = await fetch(
      `http://127.0.0.1:${port}/_apis/openapi.json?key=${secret}&adminKey=${ADMIN_KEY}`,
    );
    expect(response.status).toBe(200);
    const requestLines = issuer.logs.filter((l) => l.includes("/_apis/openapi.json"));
    expect(requestLines.length).toBeGreaterThan(0);
    expect(issuer.logs.join("\n")).not.toContain(secret);
    expect(issuer.logs.join("\n")).not.toContain(ADMIN_KEY);
  });
});
