/**
 * A real SMTP server in-process (smtp-server) that keeps every message it accepts, parsed by mailparser, and can
 * be told at run time to refuse or hang — the mail side of the end-to-end and chaos tests.
 *
 *   const smtp = await startSmtpCapture();
 *   // SMTP_URL=smtp.url  ("smtp://127.0.0.1:PORT": no TLS; AUTH, if the client sends it, accepts anyone)
 *   const [mail] = await smtp.waitFor(1, 5_000);   // mail.to, mail.subject, mail.text, mail.html, mail.raw
 *   smtp.refuse({ stage: "rcpt", code: 451, times: 2 }); // the next two RCPTs get "451 ..."
 *   smtp.hang({ stage: "data" });                   // accept DATA, never answer: the client times out
 *   smtp.heal();                                    // drop every fault
 *
 * A message is stored (and `messages` grows) before the server answers 250 to its DATA, so once the client's
 * send resolves the message is there. A refused or hung message is never stored; `attempts` counts every
 * transaction that reached DATA or was refused, to show that a client retried.
 */
import type { AddressInfo } from "node:net";
import { type AddressObject, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerDataStream } from "smtp-server";

export type SmtpStage = "connect" | "mail" | "rcpt" | "data";

export interface CapturedMail {
  /** Addresses in the To: header. */
  to: string[];
  cc: string[];
  /** The From: header's address. */
  from: string;
  subject: string;
  text: string;
  /** The HTML part, or "" when there is none. */
  html: string;
  /** The whole message as received. */
  raw: Buffer;
  /** The SMTP envelope (MAIL FROM / RCPT TO), which can differ from the headers. */
  envelope: { from: string; to: string[] };
  messageId: string | undefined;
  headers: Map<string, unknown>;
  receivedAt: Date;
}

export interface SmtpCaptureOptions {
  /** Largest message accepted, in bytes (SIZE); default 25 MB. */
  maxSize?: number;
}

export interface RefuseFault {
  stage: SmtpStage;
  /** SMTP reply code: 4xx is temporary (the client should retry), 5xx permanent. Default 451. */
  code?: number;
  message?: string;
  /** How many times to refuse before answering normally again; default: until healed. */
  times?: number;
}

export interface HangFault {
  /** "connect": no greeting is ever sent; "data": the message is read but never answered. */
  stage: "connect" | "data";
  times?: number;
}

export interface SmtpCapture {
  readonly url: string;
  readonly port: number;
  readonly messages: readonly CapturedMail[];
  /** Transactions that were refused or reached DATA (accepted, refused or hung). */
  readonly attempts: number;
  /** Resolves with the messages once at least `count` are stored; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<CapturedMail[]>;
  refuse(fault: RefuseFault): void;
  hang(fault: HangFault): void;
  heal(): void;
  /** Forget the stored messages and the attempt count. */
  clear(): void;
  close(): Promise<void>;
}

interface ActiveFault {
  kind: "refuse" | "hang";
  stage: SmtpStage;
  code: number;
  message: string;
  remaining: number;
}

export async function startSmtpCapture(options: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const messages: CapturedMail[] = [];
  let faults: ActiveFault[] = [];
  let attempts = 0;
  const waiters = new Set<() => void>();

  /** The fault to apply at this stage, if any, using up one of its `times`. */
  function takeFault(stage: SmtpStage): ActiveFault | undefined {
    const fault = faults.find((f) => f.stage === stage && f.remaining > 0);
    if (!fault) return undefined;
    fault.remaining--;
    faults = faults.filter((f) => f.remaining > 0);
    return fault;
  }

  function refusal(fault: ActiveFault): Error {
    attempts++;
    return Object.assign(new Error(fault.message), { responseCode: fault.code });
  }

  /** Answers `callback` unless a fault says otherwise; true when the caller should carry on. */
  function gate(stage: SmtpStage, callback: (err?: Error | null) => void): boolean {
    const fault = takeFault(stage);
    if (!fault) return true;
    if (fault.kind === "refuse") callback(refusal(fault));
    // a hang never calls back: the client's own timeout ends the transaction
    return false;
  }

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    size: options.maxSize ?? 25 * 1024 * 1024,
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? "anonymous" });
    },
    onConnect(_session, callback) {
      if (gate("connect", callback)) callback();
    },
    onMailFrom(_address, _session, callback) {
      if (gate("mail", callback)) callback();
    },
    onRcptTo(_address, _session, callback) {
      if (gate("rcpt", callback)) callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const fault = takeFault("data");
        if (fault?.kind === "refuse") return callback(refusal(fault));
        attempts++;
        if (fault?.kind === "hang") return;
        if (stream.sizeExceeded) {
          return callback(
            Object.assign(new Error("Message exceeds fixed maximum message size"), { responseCode: 552 }),
          );
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              to: addresses(parsed.to),
              cc: addresses(parsed.cc),
              from: addresses(parsed.from)[0] ?? "",
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : "",
              raw,
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              messageId: parsed.messageId,
              headers: parsed.headers,
              receivedAt: new Date(),
            });
            for (const wake of waiters) wake();
            callback();
          },
          (error: Error) => callback(Object.assign(error, { responseCode: 554 })),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // a client that hangs up mid-transaction is the client's business, not a test failure
  server.on("error", () => {});
  const port = (server.server.address() as AddressInfo).port;

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    get attempts() {
      return attempts;
    },
    waitFor(count, timeoutMs = 10_000) {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(messages.slice());
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`SMTP capture: ${messages.length} of ${count} message(s) after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    refuse(fault) {
      const code = fault.code ?? 451;
      faults.push({
        kind: "refuse",
        stage: fault.stage,
        code,
        message: fault.message ?? (code < 500 ? "Try again later (test fault)" : "Rejected (test fault)"),
        remaining: fault.times ?? Number.POSITIVE_INFINITY,
      });
    },
    hang(fault) {
      faults.push({
        kind: "hang",
        stage: fault.stage,
        code: 0,
        message: "",
        remaining: fault.times ?? Number.POSITIVE_INFINITY,
      });
    },
    heal() {
      faults = [];
    },
    clear() {
      messages.length = 0;
      attempts = 0;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  if (!field) return [];
  const list = Array.isArray(field) ? field : [field];
  return list.flatMap((group) => group.value.map((a) => a.address ?? "")).filter((a) => a !== "");
}
