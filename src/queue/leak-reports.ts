/**
 * Gathers a scan's findings into one LeakReport per token (fingerprint), each with its distinct locations, up
 * to what one respond job carries: a token in 50 commits becomes one respond job, one incident, one mail.
 */
import type { Finding } from "../detect/index.js";
import { findings as findingsCounter } from "../metrics/index.js";
import type { LeakReport, LeakSource, ReportedLocation } from "../respond/index.js";
import { MAX_LOCATIONS_PER_JOB, respondJob } from "./respond.js";

export class LeakReportCollector {
  private readonly reports = new Map<string, LeakReport>();
  private readonly seen = new Set<string>();
  /** Locations past MAX_LOCATIONS_PER_JOB for their token: counted, not carried. */
  dropped = 0;

  constructor(private readonly origin: { source: LeakSource; correlationId: string; receivedAt: number }) {}

  get tokens(): number {
    return this.reports.size;
  }

  add(finding: Finding, location: ReportedLocation): void {
    findingsCounter.inc({ format: finding.format });
    let report = this.reports.get(finding.fingerprint);
    if (!report) {
      report = {
        fingerprint: finding.fingerprint,
        format: finding.format,
        checksumValid: finding.checksumValid,
        redacted: finding.redacted,
        locations: [],
        ...this.origin,
      };
      this.reports.set(finding.fingerprint, report);
    }
    // The same line can show again (a rename, a merge, two encodings on one line): one location each.
    const key = `${finding.fingerprint} ${location.repository} ${location.commit} ${location.path} ${location.line}`;
    if (this.seen.has(key)) return;
    if (report.locations.length >= MAX_LOCATIONS_PER_JOB) {
      this.dropped++;
      return;
    }
    this.seen.add(key);
    report.locations.push(location);
  }

  /** One respond job per token. */
  jobs(): ReturnType<typeof respondJob>[] {
    return [...this.reports.values()].map((r) => respondJob(r));
  }
}
