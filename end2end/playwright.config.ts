import { defineConfig } from "@playwright/test";

// Every spec runs twice, once per token storage mode (a project each). Each project has two
// real servers, each with its own fresh SQLite file and demo users: one with the default
// 5-minute access token, one with a 5-second token (and a 2-second grace window) for the
// rotation and multi-tab specs.
// They run the release build (the one scripts/run serves). scripts/test picks free ports and
// the server binary; these defaults are for a manual run from end2end/ after scripts/build.
const ports = (process.env.E2E_PORTS ?? "3100,3101,3102,3103,3104").split(",").map(Number);
const serverBin = process.env.E2E_SERVER_BIN ?? "target/release/server";
// The servers listen on 127.0.0.1 and, with no PUBLIC_URL, call themselves localhost: the
// name passkeys can belong to (a browser refuses them for an IP address). Pages are visited
// by that name; the start-up check asks the address.
const url = (p: number) => `http://localhost:${p}`;

/** The port of the SMTP server the tests run (tests/mailbox.ts), which every server mails. */
export const SMTP_PORT = Number(process.env.E2E_SMTP_PORT ?? 3105);

/** The OpenID Connect provider the tests run (oidc/provider.mjs): the main server of each
 * project offers "Continue with Test ID" through it. */
export const OIDC_PORT = Number(process.env.E2E_OIDC_PORT ?? 3106);
const oidcIssuer = `http://127.0.0.1:${OIDC_PORT}`;
const OIDC_CLIENT = { id: "leptos-auth-e2e", secret: "a client secret for the tests only" };
const WITH_OIDC = {
  OIDC_PROVIDERS: "test",
  OIDC_TEST_ISSUER: oidcIssuer,
  OIDC_TEST_CLIENT_ID: OIDC_CLIENT.id,
  OIDC_TEST_CLIENT_SECRET: OIDC_CLIENT.secret,
  OIDC_TEST_NAME: "Test ID",
};

/** The admin every test server starts with (its password passes the strength check). */
export const ADMIN = { username: "admin", password: "an admin passphrase for e2e" };

function server(addrPort: number, extraEnv: Record<string, string>) {
  return {
    // A throwaway data folder per run, an admin made with the CLI (as an operator would),
    // and `exec` so Playwright stops the server itself.
    command:
      `d=$(mktemp -d) && export APP_DATA_DIR="$d" && ` +
      `echo "${ADMIN.password}" | ${serverBin} create-user --admin --username ${ADMIN.username} ` +
      `--email admin@example.com --first-name Ada --last-name Admin >/dev/null && ` +
      `exec ${serverBin} --demo`,
    cwd: "..",
    url: `http://127.0.0.1:${addrPort}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      LEPTOS_ENV: "PROD",
      LEPTOS_SITE_ADDR: `127.0.0.1:${addrPort}`,
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_OUTPUT_NAME: "leptos_auth",
      RUST_LOG: "warn",
      // Every spec logs in from 127.0.0.1; the limits have tests of their own.
      LOGIN_RATE_PER_MINUTE: "1000",
      REGISTER_RATE_PER_MINUTE: "1000",
      REFRESH_RATE_PER_MINUTE: "1000",
      MAIL_RATE_PER_MINUTE: "1000",
      PASSKEY_RATE_PER_MINUTE: "1000",
      // The SMTP server the tests run (tests/mailbox.ts). Mail queued before it listens is
      // retried by the outbox, as with any relay that is down for a moment.
      SMTP_URL: `smtp://127.0.0.1:${SMTP_PORT}`,
      ...extraEnv,
    },
  };
}

const SHORT = { ACCESS_TOKEN_LIFETIME: "5", REFRESH_GRACE_PERIOD: "2s" };
/** 5-second tokens and no grace window at all: any second use of a refresh token is a reuse. */
const NO_GRACE = { ACCESS_TOKEN_LIFETIME: "5", REFRESH_GRACE_PERIOD: "0" };

const chromium = {
  browserName: "chromium" as const,
  launchOptions: {
    // Debian's chromium: Playwright never downloads a browser here.
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  },
};

export default defineConfig<{ mode: string; shortLivedURL: string; noGraceURL: string }>({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  // list for people; json (when scripts/test asks for it) for the run's closing tally.
  reporter: process.env.E2E_JSON_REPORT
    ? [["list"], ["json", { outputFile: process.env.E2E_JSON_REPORT }]]
    : "list",
  outputDir: "test-results",
  use: {
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    { name: "localstorage", use: { ...chromium, baseURL: url(ports[0]), shortLivedURL: url(ports[1]), noGraceURL: url(ports[4]), mode: "localstorage" } },
    { name: "cookie", use: { ...chromium, baseURL: url(ports[2]), shortLivedURL: url(ports[3]), noGraceURL: url(ports[4]), mode: "cookie" } },
  ],
  // In order: the servers that sign in through the provider read it as they start.
  webServer: [
    {
      command: `exec node oidc/provider.mjs ${OIDC_PORT}`,
      url: `${oidcIssuer}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "ignore" as const,
      stderr: "pipe" as const,
      env: {
        OIDC_CLIENT_ID: OIDC_CLIENT.id,
        OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
        OIDC_REDIRECT_URIS: [ports[0], ports[2]].map((p) => `${url(p)}/auth/test/callback`).join(","),
      },
    },
    server(ports[0], WITH_OIDC),
    server(ports[1], SHORT),
    server(ports[2], { TOKEN_STORAGE: "cookie", ...WITH_OIDC }),
    server(ports[3], { ...SHORT, TOKEN_STORAGE: "cookie" }),
    server(ports[4], NO_GRACE),
  ],
});
