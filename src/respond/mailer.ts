/**
 * Sends mail with nodemailer: over SMTP when SMTP_URL is set, else each message is written as an `.eml` file
 * to `{dataDir}/outbox/` (and logged), so a laptop install still shows what would have been sent.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per notice, so a resend after a crash is recognisably the same message. */
  messageId: string;
}

export interface Mailer {
  readonly kind: "smtp" | "outbox";
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl: string | undefined;
  from: string;
  outboxDir: string;
  logger: Logger;
  /** Socket, greeting and connection timeout for SMTP (a hung server must fail the attempt, not the worker). */
  timeoutMs?: number;
}

export function createMailer(options: MailerOptions): Mailer {
  return options.smtpUrl ? smtpMailer(options, options.smtpUrl) : outboxMailer(options);
}

function smtpMailer(options: MailerOptions, url: string): Mailer {
  const timeout = options.timeoutMs ?? 20_000;
  // nodemailer reads transport options from the URL's query; the operator's own values win.
  const withTimeouts = new URL(url);
  for (const key of ["connectionTimeout", "greetingTimeout", "socketTimeout"])
    if (!withTimeouts.searchParams.has(key)) withTimeouts.searchParams.set(key, String(timeout));
  const transport: Transporter = nodemailer.createTransport(withTimeouts.toString());
  return {
    kind: "smtp",
    async send(mail) {
      await transport.sendMail({ from: options.from, ...mail });
      options.logger.info({ to: mail.to, messageId: mail.messageId }, "mail sent");
    },
    close: () => transport.close(),
  };
}

function outboxMailer(options: MailerOptions): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    kind: "outbox",
    async send(mail) {
      const info = await transport.sendMail({ from: options.from, ...mail });
      await mkdir(options.outboxDir, { recursive: true });
      const name = `${mail.messageId.replace(/[^A-Za-z0-9.-]/g, "_")}.eml`;
      const file = path.join(options.outboxDir, name);
      // Written whole or not at all: a reader never sees half a message.
      await writeFile(`${file}.tmp`, info.message as Buffer);
      await rename(`${file}.tmp`, file);
      options.logger.info({ to: mail.to, file }, "mail written to the outbox (no SMTP_URL set)");
    },
    close: () => transport.close(),
  };
}
