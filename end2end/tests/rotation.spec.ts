// Against the server whose access tokens live 5 seconds: the refresh timer fires at 4 s.
import { expect, shortLived, test } from "./fixtures";
import { Header, LoginPage, ProfilePage, heldTokens } from "./pages/app";

test.use(shortLived);

test("stays signed in across three access lifetimes while storage holds rotated tokens", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  const profile = new ProfilePage(page);
  await profile.expectShows("user1", "Sam", "Smith", "sam@example.com");

  const refreshTokens = new Set<string>();
  const deadline = Date.now() + 16_500; // 3 lifetimes of 5 s, and a little
  while (Date.now() < deadline) {
    const stored = await heldTokens(page);
    expect(stored, "never signed out").not.toBeNull();
    refreshTokens.add(stored!.refresh);
    await page.waitForTimeout(250);
  }
  expect(refreshTokens.size).toBeGreaterThanOrEqual(4); // the first plus at least 3 rotations
  await expect(page).toHaveURL("/profile");

  // The newest access token works: navigate away and back, which fetches the profile again.
  await page.getByRole("link", { name: "Home" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profile" }).click();
  await profile.expectShows("user1", "Sam", "Smith", "sam@example.com");
  await new Header(page).expectSignedInAs("user1");
});

test("a refresh token revoked on the server sends the user to /login", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user1", "password1");
  await new ProfilePage(page).expectShows("user1", "Sam", "Smith", "sam@example.com");

  // Revoke the session behind the browser's back, as an admin or another device would.
  const stored = await heldTokens(page);
  const res = await page.request.post("/api/token/blacklist/", { data: { refresh: stored!.refresh } });
  expect(res.status()).toBe(200);

  // The next timed refresh (at 4 s) is refused: the user lands on the login page.
  await expect(page).toHaveURL(/\/login\?next=%2Fprofile$/, { timeout: 10_000 });
  await expect(login.heading).toBeVisible();
  expect(await heldTokens(page)).toBeNull();
});
