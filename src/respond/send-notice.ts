/**
 * Sends the owner's notice for an incident, once: the store records the first successful send, and the job
 * that calls this is named after the incident, so retries and redeliveries never mail twice. A failure is
 * recorded on the incident (the mail status the incidents API shows) and thrown, so the job retries.
 *
 * Once the SMTP server has taken the message, recording that is retried here (the database may be away for a
 * while) rather than by failing the job: a job retry would mail the owner a second time.
 */
import type { Logger } from "pino";
import type { IssuerStore } from "../issuer/index.js";
import { mails } from "../metrics/index.js";
import { leakNotice } from "./leak-notice.js";
import type { Mailer } from "./mailer.js";

export interface NoticeDeps {
  store: Pick<IssuerStore, "getIncident" | "findByFingerprints" | "recordMailSent" | "recordMailAttempt">;
  mailer: Mailer;
  logger: Logger;
  /** How long to keep trying to record a sent mail before giving up (and letting the job retry); default 10 min. */
  recordSentForMs?: number;
}

export type NoticeOutcome = "sent" | "alreadySent" | "noIncident" | "noOwner";

export async function sendLeakNotice(deps: NoticeDeps, fingerprint: string): Promise<NoticeOutcome> {
  const incident = await deps.store.getIncident(fingerprint);
  if (!incident) return "noIncident";
  if (incident.mailedAt) return "alreadySent";
  const [match] = await deps.store.findByFingerprints([fingerprint]);
  if (!match) return "noOwner";
  const notice = leakNotice(incident, match);
  try {
    await deps.mailer.send({
      to: match.owner.email,
      ...notice,
      messageId: `<incident-${incident.id}@patrol>`,
    });
  } catch (error) {
    mails.inc({ result: "failed" });
    const reason = (error as Error).message || String(error);
    await deps.store.recordMailAttempt(fingerprint, reason);
    deps.logger.warn({ incident: incident.id, reason }, "owner notice not sent; will retry");
    throw new Error(`mail to the owner failed: ${reason}`);
  }
  mails.inc({ result: "sent" });
  const giveUpAt = Date.now() + (deps.recordSentForMs ?? 10 * 60_000);
  for (let wait = 250; ; wait = Math.min(wait * 2, 10_000)) {
    try {
      await deps.store.recordMailSent(fingerprint);
      return "sent";
    } catch (error) {
      if (Date.now() + wait > giveUpAt) throw error;
      deps.logger.warn(
        { incident: incident.id, reason: (error as Error).message },
        "owner notice sent but not yet recorded; retrying the record",
      );
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
