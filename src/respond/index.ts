/** The response to a leak: decide, revoke, notify, audit (through the store), and the owner's notice. */
export { FingerprintLookup, type FingerprintStore } from "./fingerprint-lookup.js";
export { type LeakNotice, leakNotice } from "./leak-notice.js";
export type { LeakReport, LeakSource, ReportedLocation } from "./leak-report.js";
export { createMailer, type Mailer, type MailerOptions, type OutgoingMail } from "./mailer.js";
export { decideAction, type RespondDeps, type RespondOutcome, respondToLeak } from "./respond.js";
export { type NoticeDeps, type NoticeOutcome, sendLeakNotice } from "./send-notice.js";
