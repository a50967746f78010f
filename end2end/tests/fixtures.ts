// The options each Playwright project sets: which storage mode its servers run in, the
// address of its server with 5-second access tokens, and of the one (localStorage mode) that
// also has no grace window. Specs import `test` from here.
import { test as base } from "@playwright/test";

export type Mode = "localstorage" | "cookie";

export const test = base.extend<{ mode: Mode; shortLivedURL: string; noGraceURL: string }>({
  mode: ["localstorage", { option: true }],
  shortLivedURL: ["", { option: true }],
  noGraceURL: ["", { option: true }],
});

/** For a spec (or describe block) that runs against the 5-second-token server. */
export const shortLived = {
  baseURL: async ({ shortLivedURL }: { shortLivedURL: string }, use: (url: string) => Promise<void>) =>
    use(shortLivedURL),
};

export { expect } from "@playwright/test";
