import type { Browser, Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { LoginPage, openSecurity, ProfilePage, RegisterPage } from "./pages/app";

/** A fresh user, so this spec's sign-outs and password change touch no one else. */
async function newUser(page: Page, password: string): Promise<string> {
  const username = `sec${Date.now()}`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username,
    email: `${username}@example.com`,
    firstName: "Sec",
    lastName: "Urity",
    password,
  });
  await expect(page).toHaveURL("/profile");
  return username;
}

/** A fresh user signed in here and in a second browser context ("another device"). */
async function signedInTwice(page: Page, browser: Browser) {
  const password = "a passphrase nobody guesses";
  const username = await newUser(page, password);
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await new LoginPage(otherPage).goto();
  await new LoginPage(otherPage).login(username, password);
  await expect(otherPage).toHaveURL("/profile");
  return { username, password, other, otherPage };
}

test("the security page signs out another session, and that session's tab is signed out", async ({ page, browser }) => {
  const { username, password, other, otherPage } = await signedInTwice(page, browser);

  await openSecurity(page);
  const sessions = page.getByRole("table").filter({ hasText: "This device" });
  const rows = sessions.getByRole("row");
  await expect(rows).toHaveCount(3); // header + two sessions
  await expect(page.getByText("This device")).toHaveCount(1);
  await sessions.getByRole("button", { name: /^Sign out / }).click();
  await expect(rows).toHaveCount(2);

  await otherPage.reload();
  await expect(otherPage).toHaveURL(/\/login/);
  await other.close();
});

test("changing the password needs the current one and ends the other sessions", async ({ page, browser }) => {
  const { username, password, other, otherPage } = await signedInTwice(page, browser);

  await openSecurity(page);
  const submit = page.getByRole("button", { name: "Change password" });
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password").fill("another long passphrase for me");
  await submit.click();
  await expect(page.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");

  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("New password").fill("another long passphrase for me");
  await submit.click();
  await expect(page.getByRole("status")).toHaveText("Password changed. Your other sessions have ended.");

  await otherPage.reload();
  await expect(otherPage).toHaveURL(/\/login/);
  await new LoginPage(otherPage).login(username, "another long passphrase for me");
  await new ProfilePage(otherPage).expectShows(username, "Sec", "Urity", `${username}@example.com`);
  await other.close();
});

test("sign out everywhere ends this session too", async ({ page }) => {
  await newUser(page, "a passphrase nobody guesses");
  await openSecurity(page);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page.getByRole("banner").getByRole("link", { name: "Log in" })).toBeVisible();
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/login/);
});
