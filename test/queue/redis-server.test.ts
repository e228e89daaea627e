/** The private redis-server patrol starts when REDIS_URL is unset: a real process, AOF and noeviction on. */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RedisServerError, startPrivateRedis } from "../../src/queue/redis-server.js";

function command(port: number, ...words: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write(
        `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`,
      ),
    );
    let data = "";
    socket.setEncoding("utf8").on("data", (d) => {
      data += d;
      if (data.endsWith("\r\n") && !/^\*\d+\r\n$/.test(data) && data.split("\r\n").length > 3) {
        socket.end();
        resolve(data);
      }
    });
    socket.on("error", reject);
    setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, 1000);
  });
}

describe("startPrivateRedis", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-redis-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs with AOF and noeviction under the data directory, and stops", async () => {
    const redis = await startPrivateRedis({ dir });
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await command(redis.port, "CONFIG", "GET", "maxmemory-policy")).toContain("noeviction");
      expect(await command(redis.port, "CONFIG", "GET", "appendonly")).toContain("yes");
      expect(readdirSync(dir).some((name) => name.startsWith("appendonly"))).toBe(true);
    } finally {
      await redis.stop();
    }
    await expect(
      new Promise<void>((resolve, reject) =>
        net.connect(redis.port, "127.0.0.1", resolve).on("error", reject),
      ),
    ).rejects.toThrow(/ECONNREFUSED/);
  });

  it("says how to get Redis when redis-server is missing", async () => {
    await expect(startPrivateRedis({ dir, binary: "/nonexistent/redis-server" })).rejects.toThrow(
      RedisServerError,
    );
    await expect(startPrivateRedis({ dir, binary: "/nonexistent/redis-server" })).rejects.toThrow(
      /install Redis .* or set REDIS_URL/,
    );
  });
});
