// The options each Playwright project sets: which storage mode its servers run in, the
// address of its server with 5-second access tokens, and of the one (localStorage mode) that
// also has no grace window. Specs import `test` from here.
// `mailbox` is the SMTP server the test servers mail to, one per worker process.
import { test as base } from "@playwright/test";
import { Mailbox } from "./mailbox";

export type Mode = "localstorage" | "cookie";

export const test = base.extend<
  { mode: Mode; shortLivedURL: string; noGraceURL: string },
  { mailbox: Mailbox }
>({
  mode: ["localstorage", { option: true }],
  shortLivedURL: ["", { option: true }],
  noGraceURL: ["", { option: true }],
  mailbox: [
    async ({}, use) => {
      const mailbox = await Mailbox.start();
      await use(mailbox);
      await mailbox.close();
    },
    // Started with the worker, before any test: no server's mail waits on a retry.
    { scope: "worker", auto: true },
  ],
});

/** For a spec (or describe block) that runs against the 5-second-token server. */
export const shortLived = {
  baseURL: async ({ shortLivedURL }: { shortLivedURL: string }, use: (url: string) => Promise<void>) =>
    use(shortLivedURL),
};

export { expect } from "@playwright/test";
