import { expect, test } from "./fixtures";
import { ADMIN } from "../playwright.config";
import { appCallHeaders, LoginPage, ProfilePage, restAccessToken } from "./pages/app";

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

test("a signed-in non-admin who opens /admin sees the Unauthorized page, not the login page", async ({ page, baseURL }) => {
  const login = new LoginPage(page);
  await login.goto("/admin");
  await login.login("user2", "password2");
  await expect(page).toHaveURL("/admin");
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await expect(page.getByRole("table")).toHaveCount(0);

  // Whatever the client does: the admin server functions refuse user2's own valid token.
  const access = await restAccessToken(page, "user2", "password2");
  const headers = appCallHeaders(baseURL!);
  const list = await page.request.post("/rpc/admin_users", { form: { access }, headers });
  expect(list.status()).toBe(403);
  expect((await list.json()).code).toBe("permission_denied");
  const disable = await page.request.post("/rpc/admin_set_disabled", {
    form: { access, username: "user1", disabled: "true" },
    headers,
  });
  expect(disable.status()).toBe(403);
});

test("the header links to the admin page for admins only", async ({ page }) => {
  const nav = page.getByRole("navigation", { name: "Main" });
  const login = new LoginPage(page);
  await login.goto();
  await login.login("user2", "password2");
  await new ProfilePage(page).expectShows("user2", "Tim", "Allen", "tim@example.com");
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);

  await page.getByRole("button", { name: "Log out" }).click();
  await login.goto();
  await login.login(ADMIN.username, ADMIN.password);
  await nav.getByRole("link", { name: "Admin" }).click();
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
});
