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
  expect(Object.fromEntries(encodings)).toEqual({
    "leptos_auth.css": "br",
    "leptos_auth.js": "br",
    "leptos_auth.wasm": "br",
  });
});
