/**
 * Sends the owner's notice for an incident, once: the store records the first successful send, and the job
 * that calls this is named after the incident, so retries and redeliveries never mail twice. A failure is
 * recorded on the incident (the mail status the incidents API shows) and thrown, so the job retries.
 */
import type { Logger } from "pino";
import type { IssuerStore } from "../issuer/index.js";
import { mails } from "../metrics/index.js";
import { leakNotice } from "./leak-notice.js";
import type { Mailer } from "./mailer.js";

export interface NoticeDeps {
  store: Pick<IssuerStore, "getIncident" | "findByFingerprints" | "markIncidentMailed" | "recordMailAttempt">;
  mailer: Mailer;
  logger: Logger;
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
  await deps.store.recordMailAttempt(fingerprint, null);
  await deps.store.markIncidentMailed(fingerprint);
  mails.inc({ result: "sent" });
  return "sent";
}
