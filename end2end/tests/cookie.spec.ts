// What differs between the storage modes, seen from outside: where the tokens are, what the
// server renders before any script runs, and the CSRF defence of cookie mode.
import { expect, test } from "./fixtures";
import { LoginPage, ProfilePage, REFRESH_COOKIE, STORAGE_KEY } from "./pages/app";

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

test.beforeEach(async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await new ProfilePage(page).expectShows("user1", "Sam", "Smith", "sam@example.com");
});

test("tokens are where the mode says, and in cookie mode out of the page's reach", async ({ page, mode }) => {
  const storage = await page.evaluate(() => JSON.stringify(window.localStorage));
  const cookie = (await page.context().cookies()).find((c) => c.name === REFRESH_COOKIE);
  if (mode === "localstorage") {
    expect(await page.evaluate((key) => window.localStorage.getItem(key), STORAGE_KEY)).toMatch(JWT);
    expect(cookie).toBeUndefined();
    return;
  }
  expect(storage, "no token in localStorage").not.toMatch(JWT);
  expect(await page.evaluate(() => document.cookie), "the cookie is invisible to scripts").not.toContain(REFRESH_COOKIE);
  expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
  expect(cookie!.value).toMatch(JWT);
});

test("the server renders the signed-in user on the first paint only in cookie mode", async ({ page, mode }) => {
  // The page as the server sends it, before any script runs (same cookies as the browser).
  const html = await (await page.request.get("/profile")).text();
  const header = html.slice(html.indexOf("<header"), html.indexOf("</header>"));
  if (mode === "cookie") {
    expect(header).toContain(">user1<");
    expect(header).toContain("Log out");
  } else {
    expect(header, "localStorage mode can't know before the script runs").not.toContain("user1");
  }
});

test("cookie mode refuses server function calls without the CSRF header or from another origin", async ({ page, mode, baseURL }) => {
  test.skip(mode !== "cookie", "localStorage mode authorises nothing by cookie");
  const origin = new URL(baseURL!).origin;
  const call = (headers: Record<string, string>) => page.request.post("/rpc/refresh", { form: { refresh: "" }, headers });

  expect((await call({ origin })).status(), "no custom header").toBe(403);
  expect((await call({ "x-leptos-auth-csrf": "1", origin: "http://evil.example" })).status(), "foreign origin").toBe(403);
  expect((await call({ "x-leptos-auth-csrf": "1" })).status(), "no Origin").toBe(403);
  const ok = await call({ "x-leptos-auth-csrf": "1", origin });
  expect(ok.status()).toBe(200);
  expect((await ok.json()).refresh, "the body never carries the refresh token").toBe("");

  // The REST contract is unchanged for non-browser clients: both tokens in the body.
  const rest = await page.request.post("/api/token/", { data: { username: "user2", password: "password2" } });
  expect(Object.keys(await rest.json())).toEqual(["access", "refresh", "expires_in"]);
});

test("a tab hands its tokens only to a new tab that shows its session's tag", async ({ page, mode }) => {
  test.skip(mode !== "cookie", "only cookie mode hands tokens to new tabs (localStorage holds them)");
  // A second tab of the same session: it got its access token from this one, not by a refresh.
  const second = await page.context().newPage();
  await second.goto("/profile");
  await new ProfilePage(second).expectShows("user1", "Sam", "Smith", "sam@example.com");
  // A script on the origin asks both tabs over their channel, without the session's tag.
  const heard = await second.evaluate(async () => {
    const channel = new BroadcastChannel("leptos_auth");
    const heard: string[] = [];
    channel.onmessage = (ev) => heard.push(String(ev.data));
    for (const tag of [undefined, "", "0123456789abcdef0123456789abcdef"]) {
      channel.postMessage(tag === undefined ? '"Hello"' : JSON.stringify({ Hello: { session_tag: tag } }));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    channel.close();
    return heard;
  });
  expect(heard.filter((message) => JWT.test(message)), "no tab answered with a token").toEqual([]);
});
