import { expect, test } from "./fixtures";
import { collectErrors, Header, LoginPage, ProfilePage, RegisterPage, heldTokens } from "./pages/app";

test("the page hydrates: an interactive control works and the console stays clean", async ({ page }) => {
  const errors = collectErrors(page);
  const login = new LoginPage(page);
  await login.goto();
  await expect(login.password).toHaveAttribute("type", "password");
  await expect(login.submit).toBeEnabled(); // enabled only once the WASM has run
  await login.showPassword.check();
  await expect(login.password).toHaveAttribute("type", "text");
  expect(errors).toEqual([]);
});

test("user1 logs in: the header shows the username and the profile shows Sam's own data", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await expect(page).toHaveURL("/profile");
  await new Header(page).expectSignedInAs("user1");
  await new ProfilePage(page).expectShows("user1", "Sam", "Smith", "sam@example.com");
  const held = await heldTokens(page);
  expect(held?.refresh.split(".")).toHaveLength(3);
});

test("user2 sees only Tim Allen's data", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user2", "password2");
  const profile = new ProfilePage(page);
  await profile.expectShows("user2", "Tim", "Allen", "tim@example.com");
  await expect(page.getByRole("main")).not.toContainText("Sam");
  await expect(page.getByRole("main")).not.toContainText("sam@example.com");
});

test("a wrong password shows an inline error and the form can be used again", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "not-the-password");
  await expect(login.error).toHaveText("No active account found with the given credentials");
  await expect(login.submit).toBeEnabled();
  await expect(page).toHaveURL("/login");
  expect(await heldTokens(page)).toBeNull();
});

test("a reload of /profile keeps the session and never shows the login page, not even for a frame", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto("/profile");
  await login.login("user1", "password1");
  const profile = new ProfilePage(page);
  await profile.expectShows("user1", "Sam", "Smith", "sam@example.com");

  // From the first byte of the reloaded document, record every moment the login form or
  // the /login URL appears.
  await page.addInitScript(() => {
    const seen: string[] = ((window as any).__loginSeen = []);
    const check = () => {
      if (location.pathname.startsWith("/login")) seen.push("url");
      if (document.querySelector("#login-username")) seen.push("form");
    };
    new MutationObserver(check).observe(document, { childList: true, subtree: true });
    check();
  });
  const urls: string[] = [];
  page.on("framenavigated", (frame) => urls.push(new URL(frame.url()).pathname));

  await page.reload();
  await profile.expectShows("user1", "Sam", "Smith", "sam@example.com");
  await new Header(page).expectSignedInAs("user1");
  expect(await page.evaluate(() => (window as any).__loginSeen)).toEqual([]);
  expect(urls.filter((u) => u.startsWith("/login"))).toEqual([]);
});

test("logout clears storage; /profile then asks to log in and returns there afterwards", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await expect(page).toHaveURL("/profile");
  const header = new Header(page);
  await header.expectSignedInAs("user1");
  const before = await heldTokens(page);

  await header.logout();
  // In cookie mode the logout call's answer removes the cookie a moment later.
  await expect.poll(() => heldTokens(page)).toBeNull();
  await expect(page).toHaveURL(/\/login\?next=%2Fprofile$/);

  // The old refresh token is dead on the server too: logout is real.
  const res = await page.request.post("/api/token/refresh/", { data: { refresh: before!.refresh } });
  expect(res.status()).toBe(401);

  await page.goto("/");
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/login\?next=%2Fprofile$/);
  await login.login("user1", "password1");
  await expect(page).toHaveURL("/profile");
  await new ProfilePage(page).expectShows("user1", "Sam", "Smith", "sam@example.com");
});

test("a new user registers and lands on their own profile", async ({ page }) => {
  const register = new RegisterPage(page);
  await register.goto();
  const username = `ada${Date.now()}`;
  await register.register({
    username,
    email: `${username}@example.com`,
    firstName: "Ada",
    lastName: "Lovelace",
    password: "analytical engine",
  });
  await expect(page).toHaveURL("/profile");
  await new Header(page).expectSignedInAs(username);
  await new ProfilePage(page).expectShows(username, "Ada", "Lovelace", `${username}@example.com`);
});

test("registering a taken username explains what to change", async ({ page }) => {
  const register = new RegisterPage(page);
  await register.goto();
  await register.register({
    username: "user1",
    email: "x@example.com",
    firstName: "X",
    lastName: "Y",
    password: "plenty long passphrase",
  });
  await expect(page.getByRole("alert")).toHaveText("A user with that username already exists.");
  await expect(page.getByLabel("Username")).toHaveAttribute("aria-invalid", "true");
});

test("unknown pages say so", async ({ page }) => {
  const res = await page.goto("/no/such/page");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
