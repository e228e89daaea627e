/**
 * The queue dashboard in a real browser (Debian's chromium through playwright-core) against a listening server
 * and real BullMQ queues: sign in, see `scan` and `respond`, open a failed job; a viewer cannot retry it, an
 * admin can, and Redis says so.
 */
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type TestBrowser } from "../support/browser.js";
import {
  ADMIN_KEY,
  dashboardApp,
  type QueuesWithJobs,
  queuesWithJobs,
  VIEWER_KEY,
} from "./dashboard-fixture.js";

describe("queue dashboard in a browser", () => {
  let queues: QueuesWithJobs;
  let app: FastifyInstance;
  let browser: TestBrowser;
  let base: string;
  let page: Page;

  beforeAll(async () => {
    queues = await queuesWithJobs("dashboard-browser");
    app = await dashboardApp(queues);
    base = await app.listen({ host: "127.0.0.1", port: 0 });
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await queues?.close();
  });

  async function signIn(key: string) {
    await page.goto(`${base}/admin/queues`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    await page.getByLabel("Dashboard key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/admin/queues`);
  }

  async function openFailedScanJob() {
    await page.goto(`${base}/admin/queues/queue/scan/${queues.failed.scan}`);
    await page.getByText("planned failure").first().waitFor();
  }

  /** The job card's retry button: an icon whose tooltip says "Retry". */
  const retryJobButton = () => page.locator("li button:has(svg.lucide-refresh-cw)");

  async function openFailedScanList() {
    await page.goto(`${base}/admin/queues/queue/scan?status=failed`);
    await page.getByText("planned failure").first().waitFor();
  }

  it("a viewer sees the queues and the failed job, and cannot retry it", async () => {
    await signIn(VIEWER_KEY);
    const menu = page.getByRole("navigation");
    await menu.getByText("scan", { exact: true }).waitFor();
    await menu.getByText("respond", { exact: true }).waitFor();

    await openFailedScanList();
    expect(await page.getByRole("button", { name: /retry all/i }).count()).toBe(0);
    await openFailedScanJob();
    expect(await retryJobButton().count()).toBe(0);
    // Nor does the server take the call the admin's button would make, from this page's own session.
    const status = await page.evaluate(
      async (url) => (await fetch(url, { method: "PUT" })).status,
      `${base}/admin/queues/api/queues/scan/${queues.failed.scan}/retry`,
    );
    expect(status).toBe(405);
    expect(await queues.scan.getJobState(queues.failed.scan)).toBe("failed");

    // "Sign out" sits in the header's menu (bull-board's misc links).
    await page.locator("header button[aria-haspopup=menu]").click();
    await page.getByRole("menuitem", { name: "Sign out" }).click();
    await page.waitForURL(`${base}/admin/login`);
    await page.goto(`${base}/admin/queues`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
  });

  it("an admin retries the failed job and it leaves the failed set", async () => {
    await signIn(ADMIN_KEY);
    await openFailedScanList();
    // The same selectors find the buttons for an admin, so their absence for the viewer means something.
    expect(await page.getByRole("button", { name: /retry all/i }).count()).toBeGreaterThan(0);
    await openFailedScanJob();
    await retryJobButton().hover();
    await page.getByText("Retry", { exact: true }).waitFor();
    await retryJobButton().click();
    const confirm = page.getByRole("alertdialog");
    await confirm.getByText("Are you sure that you want to retry this job?").waitFor();
    await confirm.getByRole("button", { name: "Confirm" }).click();
    await expect
      .poll(() => queues.scan.getJobState(queues.failed.scan), { timeout: 10_000 })
      .not.toBe("failed");
    expect(await queues.scan.getJobState(queues.failed.scan)).toBe("waiting");
  });
});
