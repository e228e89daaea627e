/**
 * A real browser for tests: playwright-core driving Debian's chromium (`apt-get install chromium`; `.ci/run`
 * installs it), headless, with a fresh profile, and allowed to reach loopback addresses only.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true;
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  }
  const userDataDir = mkdtempSync(path.join(tmpdir(), "patrol-chromium-"));
  try {
    // A persistent context is how playwright takes a profile directory of our choosing.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-gpu",
        "--no-first-run",
      ],
      viewport: { width: 1280, height: 900 },
    });
    // Pages may name outside hosts (web fonts, say): those requests never leave the machine.
    await context.route(
      (url) => !isLoopback(url.href),
      (route) => route.abort("blockedbyclient"),
    );
    return {
      context,
      async close() {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
