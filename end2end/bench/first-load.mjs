// The first load of each route as a browser receives it, for the benchmark (bench/src/first_load.rs
// runs this with the URL of a release server it started, with the demo users and an admin).
// It lives under end2end/ for Playwright and Debian's chromium, which the tests install.
//
// For each route: a new browser context (an empty HTTP cache), signed in first where the route
// needs it, then one visit; every /pkg/ response is counted by the bytes that crossed the wire
// (the encoded body, as the server sent it). Then the time to interactive of /login under
// emulated Fast 3G: navigation start to the moment its "Log in" button is enabled (it is
// disabled until the WASM has hydrated the page), five cold visits.
//
// Prints one JSON object on stdout; progress and errors go to stderr.
import { chromium } from "@playwright/test";

const [base, adminPassword] = process.argv.slice(2);
if (!base || !adminPassword) {
  console.error("usage: node first-load.mjs <base URL> <admin password>");
  process.exit(2);
}
const RUNS = Number(process.env.FIRST_LOAD_RUNS ?? 5);

// Chrome DevTools' "Fast 3G" preset (the one Lighthouse's mobile throttling is based on).
const FAST_3G = { offline: false, latency: 562.5, downloadThroughput: 180_000, uploadThroughput: 84_375 };

const DEMO = { username: "user1", password: "password1" };
const ADMIN = { username: "admin", password: adminPassword };

/** Each route, who visits it, and what shows that it works (its code arrived and ran). */
const ROUTES = [
  { path: "/", ready: (page) => page.getByRole("link", { name: "create an account" }) },
  { path: "/login", ready: (page) => enabled(page, "Log in") },
  { path: "/register", ready: (page) => enabled(page, "Create account") },
  { path: "/forgot-password", ready: (page) => enabled(page, "Send me a link") },
  { path: "/profile", as: DEMO, ready: (page) => page.getByRole("button", { name: "Edit profile" }) },
  { path: "/security", as: DEMO, ready: (page) => enabled(page, "Change password") },
  { path: "/admin", as: ADMIN, ready: (page) => page.getByRole("heading", { name: "Users" }) },
];

/** The main form's button, once enabled. */
function enabled(page, name) {
  return page.locator("main").getByRole("button", { name, exact: true, disabled: false });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const routes = [];
  for (const route of ROUTES) {
    console.error(`first load of ${route.path}`);
    routes.push(await firstLoad(route));
  }
  const samples = [];
  for (let run = 0; run < RUNS; run++) {
    console.error(`/login under Fast 3G, ${run + 1} of ${RUNS}`);
    samples.push(await throttledLogin());
  }
  console.log(JSON.stringify({ routes, login_fast_3g_ms: samples }));
} finally {
  await browser.close();
}

async function firstLoad(route) {
  const context = await browser.newContext({ baseURL: base });
  try {
    let page = await context.newPage();
    if (route.as) {
      await signIn(page, route.as);
      // Signed in (the session is the context's), with nothing of the app's code cached:
      // the HTTP cache cleared, and a new page, whose memory cache is empty.
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.clearBrowserCache");
      await page.close();
      page = await context.newPage();
    }
    const pending = [];
    page.on("requestfinished", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/pkg/")) pending.push(describe(request, path.slice("/pkg/".length)));
    });
    await page.goto(route.path);
    await route.ready(page).waitFor({ timeout: 30_000 });
    // Whatever the page fetches once it runs (a lazy route's chunk) is part of its first load.
    await page.waitForLoadState("networkidle");
    // A file the page asks for twice (a preload, then the fetch) crossed the wire once: the
    // second time it came from the cache.
    const byName = new Map();
    for (const file of await Promise.all(pending)) {
      if (!(byName.get(file.name)?.bytes >= file.bytes)) byName.set(file.name, file);
    }
    const files = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
    return { path: route.path, signed_in: Boolean(route.as), files };
  } finally {
    await context.close();
  }
}

/** A file as it came: its name, the body's bytes on the wire and their encoding. */
async function describe(request, name) {
  const [sizes, headers] = await Promise.all([request.sizes(), request.response().then((r) => r?.allHeaders())]);
  // Chromium reports a body taken from the memory cache with a size below zero: none crossed.
  return { name, bytes: Math.max(0, sizes.responseBodySize), encoding: headers?.["content-encoding"] ?? "identity" };
}

async function signIn(page, { username, password }) {
  await page.goto("/login");
  const submit = enabled(page, "Log in");
  await submit.waitFor();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await submit.click();
  await page.waitForURL(/\/profile$/);
}

/** Milliseconds from navigation start until the login form can be used, on Fast 3G. */
async function throttledLogin() {
  const context = await browser.newContext({ baseURL: base });
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", FAST_3G);
    await page.goto("/login", { waitUntil: "commit", timeout: 120_000 });
    // Polled every animation frame in the page, timed by the page's own clock.
    const handle = await page.waitForFunction(
      () => {
        const button = [...document.querySelectorAll("main button")].find((b) => b.textContent.trim() === "Log in");
        return button && !button.disabled && performance.now();
      },
      undefined,
      { polling: "raf", timeout: 120_000 },
    );
    return Math.round(await handle.jsonValue());
  } finally {
    await context.close();
  }
}
