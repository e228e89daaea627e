/**
 * A tenant's jwksUrl is a URL the server fetches: it must not reach inside the network, grow the server without
 * bound, hammer a failing host, or tell the caller what it found.
 */
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer } from "../../src/issuer/index.js";
import {
  addressAllowed,
  guardedJwksFetch,
  JWKS_FAILURE_CACHE_MS,
  JWKS_MAX_BYTES,
} from "../../src/issuer/jwks-fetch.js";
import { openTestIssuer, seedTenant, startOidcProvider, type TestIssuer } from "../support/issuer.js";

const production = { allowPrivate: false, allowHttpLoopback: false };
const development = { allowPrivate: false, allowHttpLoopback: true };

let hits = 0;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/big") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [], pad: "x".repeat(JWKS_MAX_BYTES) }));
    } else if (req.url === "/big-chunked") {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = "x".repeat(64 * 1024);
      res.write('{"keys":[],"pad":"');
      for (let i = 0; i < 8; i++) res.write(chunk);
      res.end('"}');
    } else if (req.url === "/redirect") {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    } else if (req.url === "/html") {
      res.writeHead(200, { "content-type": "text/html" }).end("<html>internal admin page</html>");
    } else if (req.url === "/fail") {
      res.writeHead(500).end("database password is hunter2");
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end('{"keys":[]}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("guarded JWKS fetch", () => {
  it("refuses private, loopback, link-local and special addresses, judged after DNS and by mapped IPv4", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
    ]) {
      expect(addressAllowed(address, production, false), address).toBe(false);
    }
    expect(addressAllowed("93.184.216.34", production, false)).toBe(true);
    expect(addressAllowed("2606:4700::1111", production, false)).toBe(true);
    // Loopback over http only in development, and only for a loopback URL; private when the operator allows it.
    expect(addressAllowed("127.0.0.1", development, true)).toBe(true);
    expect(addressAllowed("10.1.2.3", development, true)).toBe(false);
    expect(addressAllowed("10.1.2.3", { ...production, allowPrivate: true }, false)).toBe(true);
  });

  it("connects nowhere it must not: no socket is opened for a refused address or scheme", async () => {
    let connections = 0;
    const tcp = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    const port = (tcp.address() as AddressInfo).port;
    try {
      const fetchJwks = guardedJwksFetch(production);
      for (const url of [
        `http://127.0.0.1:${port}/jwks`,
        `https://127.0.0.1:${port}/jwks`,
        `https://localhost:${port}/jwks`,
        `https://[::ffff:127.0.0.1]:${port}/jwks`,
        `https://169.254.169.254/latest/meta-data/`,
        `ftp://127.0.0.1:${port}/jwks`,
      ]) {
        await expect(fetchJwks(url, {}), url).rejects.toThrow();
      }
      // In development http reaches loopback, but never another private address.
      await expect(guardedJwksFetch(development)("http://10.0.0.1/jwks", {})).rejects.toThrow(/scheme/);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it("caps the size, follows no redirect, wants a JWK set", async () => {
    const fetchJwks = () => guardedJwksFetch(development);
    expect(((await (await fetchJwks()(`${base}/ok`, {})).json()) as { keys: unknown[] }).keys).toEqual([]);
    for (const url of ["/big", "/big-chunked", "/redirect", "/html", "/fail"]) {
      await expect(fetchJwks()(`${base}${url}`, {}), url).rejects.toThrow();
    }
  });

  it("remembers a failure briefly instead of fetching again", async () => {
    let now = 1_000_000;
    const fetchJwks = guardedJwksFetch(development, () => now);
    hits = 0;
    await expect(fetchJwks(`${base}/fail`, {})).rejects.toThrow();
    await expect(fetchJwks(`${base}/fail`, {})).rejects.toThrow();
    expect(hits).toBe(1);
    now += JWKS_FAILURE_CACHE_MS + 1;
    await expect(fetchJwks(`${base}/fail`, {})).rejects.toThrow();
    expect(hits).toBe(2);
  });
});

describe("sign-in through a bad jwksUrl", () => {
  let issuer: TestIssuer;
  let app: FastifyInstance;

  beforeAll(async () => {
    issuer = await openTestIssuer();
    app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
  });
  afterAll(async () => {
    await app.close();
    await issuer.close();
  });

  it("answers one message for every failure, revealing nothing of what was found", async () => {
    const oidc = await startOidcProvider();
    try {
      const jwt = await oidc.sign({ sub: "s", email: "alice@example.com" });
      const messages = new Set<string>();
      for (const jwksUrl of [
        `${base}/big`,
        `${base}/fail`,
        `${base}/html`,
        `${base}/redirect`,
        "http://127.0.0.1:9/x",
      ]) {
        const s = await seedTenant(issuer.store, { issuer: oidc.issuer, audience: oidc.audience, jwksUrl });
        const response = await app.inject({
          method: "GET",
          url: `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`,
          headers: { authorization: `Bearer ${jwt}` },
        });
        expect(response.statusCode, jwksUrl).toBe(401);
        expect(response.body).not.toMatch(/hunter2|html|169\.254|status|bytes/);
        messages.add(response.json().message);
      }
      // The API gives one message for every refused sign-in token; the reason (here the fetch) goes to the log.
      expect([...messages]).toEqual([
        "the bearer token was rejected: sign in again with your identity provider",
      ]);
    } finally {
      await oidc.close();
    }
  });

  it("refuses a jwksUrl that is not https when it is set, outside development loopback", async () => {
    const s = await seedTenant(issuer.store);
    for (const jwksUrl of ["http://10.0.0.1/jwks.json", "http://metadata.example/jwks.json"]) {
      await expect(
        issuer.store.updateTenantOidc(s.tenant.name, { jwksUrl }, { actor: { kind: "admin", name: "t" } }),
      ).rejects.toMatchObject({ kind: "invalid" });
    }
  });
});
