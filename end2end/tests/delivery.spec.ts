// What a browser downloads: the built WASM, JS and CSS arrive compressed (the release build
// leaves .br and .gz copies beside them, and the server picks one by Accept-Encoding).
import { expect, test } from "./fixtures";
import { LoginPage } from "./pages/app";

test("a cold visit to /login gets the WASM, JS and CSS brotli-compressed", async ({ page }) => {
  const encodings = new Map<string, string>();
  page.on("response", async (res) => {
    const path = new URL(res.url()).pathname;
    if (path.startsWith("/pkg/")) encodings.set(path.slice("/pkg/".length), (await res.allHeaders())["content-encoding"] ?? "none");
  });
  const login = new LoginPage(page);
  await login.goto();
  // Hydrated: the WASM arrived and ran.
  await expect(login.submit).toBeEnabled();
  // No page's chunk: the account pages' code comes when they are shown (the test below).
  expect(Object.fromEntries(encodings)).toEqual({
    "__wasm_split.______________________.js": "br",
    "leptos_auth.css": "br",
    "leptos_auth.js": "br",
    "leptos_auth.wasm": "br",
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
  const chunks = () => [...wasm.keys()].filter((name) => name !== "leptos_auth.wasm");
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
  const chunk = /\/pkg\/(?!leptos_auth\.wasm)[^/]+\.wasm$/;
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
