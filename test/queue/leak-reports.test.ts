/**
 * LeakReportCollector on its own: how a scan's findings become respond jobs. One job per token whatever the
 * number of places it shows up in, each place once, at most MAX_LOCATIONS_PER_JOB of them (the rest counted),
 * and every job carrying the delivery it came from.
 */
import { describe, expect, it } from "vitest";
import type { Finding } from "../../src/detect/index.js";
import { findings } from "../../src/metrics/index.js";
import { MAX_LOCATIONS_PER_JOB } from "../../src/queue/index.js";
import { LeakReportCollector } from "../../src/queue/leak-reports.js";
import type { ReportedLocation } from "../../src/respond/index.js";
import { fingerprint, mintAzdo, mintLegacy, redact } from "../../src/tokens/index.js";

const origin = { source: "push" as const, correlationId: "delivery-1", receivedAt: 1_700_000_000_000 };

function findingOf(token: string, format: Finding["format"] = "azdo-pat", checksumValid = true): Finding {
  return {
    format,
    fingerprint: fingerprint(token),
    checksumValid,
    encoding: "plain",
    commit: null,
    path: null,
    line: null,
    column: null,
    redacted: redact(token),
  } as Finding;
}

const at = (
  path: string,
  line: number,
  commit = "c".repeat(40),
  repository = "octo/app",
): ReportedLocation => ({
  repository,
  commit,
  path,
  line,
  url: `https://github.com/${repository}/blob/${commit}/${path}#L${line}`,
});

describe("LeakReportCollector", () => {
  it("makes one respond job per token, with the finding's facts and the delivery's origin", () => {
    const azdo = mintAzdo();
    const legacy = mintLegacy();
    const collector = new LeakReportCollector(origin);
    expect(collector.tokens).toBe(0);
    expect(collector.jobs()).toEqual([]);
    collector.add(findingOf(azdo), at("a.ts", 1));
    collector.add(findingOf(legacy, "azdo-pat-legacy", false), at("b.ts", 2));
    collector.add(findingOf(azdo), at("c.ts", 3));
    expect(collector.tokens).toBe(2);
    const jobs = collector.jobs();
    expect(jobs).toHaveLength(2);
    expect(jobs[0].data).toEqual({
      fingerprint: fingerprint(azdo),
      format: "azdo-pat",
      checksumValid: true,
      redacted: redact(azdo),
      locations: [at("a.ts", 1), at("c.ts", 3)],
      source: "push",
      correlationId: "delivery-1",
      receivedAt: 1_700_000_000_000,
    });
    expect(jobs[1].data).toMatchObject({
      fingerprint: fingerprint(legacy),
      format: "azdo-pat-legacy",
      checksumValid: false,
      locations: [at("b.ts", 2)],
    });
    // Named after the delivery and the token: a redelivered webhook queues the same job, not a second one.
    expect(jobs[0].opts.jobId).toBe(`leak-delivery-1-${fingerprint(azdo)}`);
    expect(jobs.map((j) => j.name)).toEqual(["leak", "leak"]);
    expect(collector.dropped).toBe(0);
  });

  it("keeps each place once, and tells apart places that differ in any one of repository, commit, path, line", () => {
    const token = mintAzdo();
    const collector = new LeakReportCollector(origin);
    const base = at("src/x.ts", 7);
    collector.add(findingOf(token), base);
    // The same line seen again (a rename, a merge, the token twice on one line): not a new place.
    collector.add(findingOf(token), { ...base });
    collector.add(findingOf(token), { ...base, url: null });
    const distinct = [
      { ...base, repository: "octo/other" },
      { ...base, commit: "d".repeat(40) },
      { ...base, path: "src/y.ts" },
      { ...base, line: 8 },
    ];
    for (const location of distinct) collector.add(findingOf(token), location);
    const [job] = collector.jobs();
    expect(job.data.locations).toEqual([base, ...distinct]);
    // Two tokens on the same line are two reports, each with that place.
    const other = mintAzdo();
    collector.add(findingOf(other), base);
    expect(collector.jobs()[1].data.locations).toEqual([base]);
    expect(collector.dropped).toBe(0);
  });

  it(`carries at most ${MAX_LOCATIONS_PER_JOB} places per token and counts the rest`, () => {
    const token = mintAzdo();
    const small = mintAzdo();
    const collector = new LeakReportCollector(origin);
    for (let i = 1; i <= MAX_LOCATIONS_PER_JOB; i++) collector.add(findingOf(token), at("f.ts", i));
    expect(collector.dropped).toBe(0);
    collector.add(findingOf(token), at("f.ts", MAX_LOCATIONS_PER_JOB + 1));
    collector.add(findingOf(token), at("f.ts", MAX_LOCATIONS_PER_JOB + 2));
    // A place already carried is a repeat, not a dropped one.
    collector.add(findingOf(token), at("f.ts", 1));
    expect(collector.dropped).toBe(2);
    // The cap is per token: another token still gets its places.
    collector.add(findingOf(small), at("f.ts", 1));
    const [big, other] = collector.jobs();
    expect(big.data.locations).toHaveLength(MAX_LOCATIONS_PER_JOB);
    expect(big.data.locations.at(-1)).toEqual(at("f.ts", MAX_LOCATIONS_PER_JOB));
    expect(other.data.locations).toEqual([at("f.ts", 1)]);
    expect(collector.dropped).toBe(2);
  });

  it("counts every finding by format, repeats included (the detector's figure, not the incidents')", async () => {
    const count = async (format: string) =>
      (await findings.get()).values.find((v) => v.labels.format === format)?.value ?? 0;
    const before = { azdo: await count("azdo-pat"), legacy: await count("azdo-pat-legacy") };
    const token = mintAzdo();
    const collector = new LeakReportCollector(origin);
    collector.add(findingOf(token), at("a.ts", 1));
    collector.add(findingOf(token), at("a.ts", 1));
    collector.add(findingOf(mintLegacy(), "azdo-pat-legacy"), at("a.ts", 2));
    expect(await count("azdo-pat")).toBe(before.azdo + 2);
    expect(await count("azdo-pat-legacy")).toBe(before.legacy + 1);
  });
});
