/**
 * Email action through SMTP with nodemailer. One transport per SMTP URL, reused. The delivery id
 * is the Message-ID's local part, so a mail server or reader can spot a redelivery.
 */
import nodemailer from "nodemailer";
import type { ActionConfig } from "../health/config";
import type { Delivery, Sender } from "./outbox";

const transports = new Map<string, nodemailer.Transporter>();

function transport(url: string): nodemailer.Transporter {
  let t = transports.get(url);
  if (!t) {
    // Loopback test servers have no certificate; a real smtps:// URL still verifies.
    t = nodemailer.createTransport(url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
    transports.set(url, t);
  }
  return t;
}

export function emailText(d: Delivery): { subject: string; text: string } {
  const a = d.alert;
  const subject = `[tether] ${d.event}: ${a.action} - ${a.subject}`;
  const lines = [
    `${a.summary}`,
    ``,
    `rule: ${a.rule}`,
    `subject: ${a.subject}`,
    `state: ${a.state}`,
    `opened: ${new Date(a.openedAtMs).toISOString()}`,
  ];
  if (a.dueByMs !== null) lines.push(`due by: ${new Date(a.dueByMs).toISOString()}`);
  lines.push(`delivery: ${d.id}`);
  return { subject, text: lines.join("\n") + "\n" };
}

export const sendEmail: Sender = async (d: Delivery, config: ActionConfig) => {
  if (config.type !== "email") throw new Error("not an email action");
  const { subject, text } = emailText(d);
  await transport(config.smtp).sendMail({ from: config.from, to: config.to, subject, text, messageId: `<${d.id}@tether>` });
};

/** Closes the pooled SMTP transports (service shutdown, tests). */
export function closeEmailTransports(): void {
  for (const t of transports.values()) t.close();
  transports.clear();
}
