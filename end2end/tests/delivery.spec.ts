// What a browser downloads: the built WASM, JS and CSS arrive compressed (the release build
// leaves .br and .gz copies beside them, and the server picks one by Accept-Encoding), under
// names that carry their content's hash, cached for good.
import { expect, test } from "./fixtures";
import { LoginPage } from "./pages/app";

/** A built file's name with its content hash (22 base64url characters) as `<hash>`. */
const unhashed = (name: string) => name.replace(/\.[A-Za-z0-9_-]{22}\./, ".<hash>.");

test("a cold visit to /login gets the WASM, JS and CSS brotli-compressed, cached for good", async ({ page }) => {
  const received = new Map<string, string>();
  page.on("response", async (res) => {
    const path = new URL(res.url()).pathname;
    if (!path.startsWith("/pkg/")) return;
    const headers = await res.allHeaders();
    received.set(unhashed(path.slice("/pkg/".length)), `${headers["content-encoding"]}; ${headers["cache-control"]}`);
  });
  const login = new LoginPage(page);
  await login.goto();
  // Hydrated: the WASM arrived and ran.
  await expect(login.submit).toBeEnabled();
  // No page's chunk: the other pages' code comes when they are shown (the test below).
  const forGood = "br; public, max-age=31536000, immutable";
  expect(Object.fromEntries(received)).toEqual({
    "__wasm_split.<hash>.js": forGood,
    "leptos_auth.<hash>.css": forGood,
    "leptos_auth.<hash>.js": forGood,
    "leptos_auth.<hash>.wasm": forGood,
  });
});

test("the account pages come as WASM chunks of their own, fetched only when shown", async ({ page }) => {
  const wasm = new Map<string, string>();
  page.on("response", async (res) => {
    const path = new URL(res.url()).pathname;
    if (path.startsWith("/pkg/") && path.endsWith(".wasm"))
      wasm.set(path.slice("/pkg/".length), (await res.allHeaders())["content-encoding"] ?? "none");
  });
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  const chunks = () => [...wasm.keys()].filter((name) => !unhashed(name).startsWith("leptos_auth."));
  // The profile page's code came when it was shown, after the login page's.
  expect(chunks().length).toBeGreaterThan(0);
  const profileChunks = chunks();

  // A cold load of the security page: its chunk arrives compressed, and the page hydrates.
  wasm.clear();
  await page.goto("/security");
  await expect(page.getByRole("button", { name: "Change password" })).toBeEnabled();
  expect(chunks().length).toBeGreaterThan(0);
  for (const name of chunks()) expect(wasm.get(name)).toBe("br");
  expect(chunks()).not.toEqual(profileChunks);
});

test("a page whose code cannot be loaded offers a reload, which brings it back", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  // As after a deploy that replaced the chunks this tab would load next.
  const chunk = /\/pkg\/(?!leptos_auth\.)[^/]+\.wasm$/;
  await page.route(chunk, (route) => route.fulfill({ status: 404, body: "" }));
  await page.getByRole("banner").getByRole("link", { name: "Security" }).click();
  const notice = page.getByRole("alert").filter({ hasText: "This page stopped working" });
  await expect(notice).toBeVisible();

  // The reload brings back the page the tab was on, working: the link works this time.
  await page.unroute(chunk);
  await notice.getByRole("link", { name: "Reload the page" }).click();
  await expect(notice).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Edit profile" })).toBeEnabled();
  await page.getByRole("banner").getByRole("link", { name: "Security" }).click();
  await expect(page.getByRole("button", { name: "Change password" })).toBeEnabled();
});
