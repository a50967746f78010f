// A real SMTP server in the test process (npm smtp-server), which every test server sends
// its mail to (SMTP_URL in playwright.config.ts), with each message parsed by mailparser.
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";
import { expect } from "@playwright/test";
import { SMTP_PORT } from "../playwright.config";

export type Mail = { to: string[]; subject: string; text: string; html: string };

export class Mailbox {
  private readonly mails: Mail[] = [];
  private constructor(private readonly server: SMTPServer) {}

  static async start(port = SMTP_PORT): Promise<Mailbox> {
    let box: Mailbox | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            box!.mails.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              html: typeof parsed.html === "string" ? parsed.html : "",
            });
            callback();
          })
          .catch(callback);
      },
    });
    box = new Mailbox(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return box;
  }

  /** Every mail to `to` so far, oldest first. */
  to(to: string): Mail[] {
    return this.mails.filter((m) => m.to.includes(to.toLowerCase()));
  }

  /** The newest mail to `to` whose subject matches, waiting for it to arrive. */
  async waitFor(to: string, subject: RegExp): Promise<Mail> {
    let found: Mail | undefined;
    await expect
      .poll(() => {
        found = this.to(to).reverse().find((m) => subject.test(m.subject));
        return found !== undefined;
      }, { message: `a mail to ${to} with subject ${subject}`, timeout: 20_000 })
      .toBe(true);
    return found!;
  }

  async close() {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The path and query of the mail's link to `page` (`/reset-password?token=…`). */
export function linkPath(mail: Mail, page: string): string {
  const match = mail.text.match(new RegExp(`https?://[^/\\s]+(/${page}\\?token=[A-Za-z0-9_-]+)`));
  expect(match, `a ${page} link in: ${mail.text}`).not.toBeNull();
  return match![1];
}
