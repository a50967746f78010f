import { expect, test } from "@playwright/test";
import { ADMIN } from "../playwright.config";
import { LoginPage, ProfilePage } from "./pages/app";

test("the admin lists the accounts and disables one: that user's session ends", async ({ page, browser }) => {
  // user1 is signed in elsewhere.
  const other = await browser.newContext();
  const userPage = await other.newPage();
  await new LoginPage(userPage).goto();
  await new LoginPage(userPage).login("user1", "password1");
  await new ProfilePage(userPage).expectShows("user1", "Sam", "Smith", "sam@example.com");

  const login = new LoginPage(page);
  await login.goto("/admin");
  await login.login(ADMIN.username, ADMIN.password);
  await expect(page).toHaveURL("/admin");
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
  const user1 = page.getByRole("row", { name: /user1/ });
  await expect(user1).toContainText("Sam Smith");
  await expect(user1).toContainText("active");
  await expect(page.getByRole("row", { name: /admin/ })).toContainText("admin");

  await page.getByRole("button", { name: "Disable user1" }).click();
  await expect(user1).toContainText("disabled");
  await expect(page.getByRole("button", { name: "Enable user1" })).toBeVisible();

  // user1's next call is refused: the tab lands on the login page.
  await userPage.reload();
  await expect(userPage).toHaveURL(/\/login/);
  await other.close();

  await page.getByRole("button", { name: "Enable user1" }).click();
  await expect(user1).toContainText("active");
});

test("a signed-in non-admin who opens /admin sees the Unauthorized page, not the login page", async ({ page }) => {
  const login = new LoginPage(page);
  await login.goto("/admin");
  await login.login("user2", "password2");
  await expect(page).toHaveURL("/admin");
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);
});
