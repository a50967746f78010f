// Signing in through an OpenID Connect provider in a real browser: the login page's
// "Continue with Test ID" goes to the provider the tests run (oidc/provider.mjs, npm
// oidc-provider with its development login page) and comes back signed in, on the page
// that was asked for. An address an account here already has is refused, not linked.
import { expectAccessible, photograph } from "./accessibility";
import { expect, test } from "./fixtures";
import { Header, LoginPage, openSecurity, RegisterPage } from "./pages/app";

/** Logs in at the provider's development login page as `login` (any name is an account). */
async function atTheProvider(page: import("@playwright/test").Page, login: string) {
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/interaction\//);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("anything");
  await page.getByRole("button", { name: "Sign-in" }).click();
}

test("Continue with a provider makes an account, signs in and keeps next", async ({ page }, testInfo) => {
  const login = `oidc${Date.now()}`;
  const loginPage = new LoginPage(page);
  await loginPage.goto("/security");
  const button = page.getByRole("link", { name: "Continue with Test ID" });
  await expect(button).toBeVisible();
  await expectAccessible(page, "login page with a provider");
  await photograph(page, testInfo, "login-provider");

  await button.click();
  await atTheProvider(page, login);
  await expect(page).toHaveURL("/security");
  await new Header(page).expectSignedInAs(login);
  expect(page.url(), "the hand-over token left the address bar").not.toContain("handoff");

  // Signed out and back in through the provider: the same account.
  await new Header(page).logout();
  await loginPage.goto();
  await page.getByRole("link", { name: "Continue with Test ID" }).click();
  // The provider remembers the person now: straight back, no login page there.
  await expect(page).toHaveURL("/profile");
  await new Header(page).expectSignedInAs(login);
  await expect(page.getByText(`${login}@example.com`)).toBeVisible();
});

test("an address an account here has is not linked by a provider's sign-in", async ({ page }, testInfo) => {
  const name = `taken${Date.now()}`;
  await new RegisterPage(page).goto();
  await expect(page.getByRole("link", { name: "Continue with Test ID" })).toBeVisible();
  await new RegisterPage(page).register({
    username: `${name}_here`, email: `${name}@example.com`, firstName: "Tak", lastName: "En",
    password: "a passphrase nobody guesses",
  });
  await expect(page).toHaveURL("/profile");
  await new Header(page).logout();

  const loginPage = new LoginPage(page);
  await loginPage.goto();
  await page.getByRole("link", { name: "Continue with Test ID" }).click();
  await atTheProvider(page, name);
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toContainText(
    "An account here already uses that email address",
  );
  await expect(new Header(page).loginLink).toBeVisible();
  await expectAccessible(page, "login page after a refused provider sign-in");
  await photograph(page, testInfo, "login-provider-refused");
});

test("a provider linked on the security page signs in to that account", async ({ page }, testInfo) => {
  const name = `linker${Date.now()}`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username: name, email: `${name}@example.com`, firstName: "Lin", lastName: "Ker",
    password: "a passphrase nobody guesses",
  });
  await expect(page).toHaveURL("/profile");

  await openSecurity(page);
  const section = page.getByRole("region", { name: "Sign-in providers" });
  await section.getByRole("button", { name: "Link Test ID" }).click();
  await atTheProvider(page, `${name}-elsewhere`);
  await expect(page).toHaveURL(/\/security\?provider_linked=test/);
  await expect(section.getByRole("status").filter({ hasText: "Linked." })).toBeVisible();
  await expect(section.getByRole("row", { name: /Test ID/ })).toContainText(`${name}-elsewhere@example.com`);
  await expectAccessible(page, "security page with a linked provider");
  await photograph(page, testInfo, "security-providers");

  await new Header(page).logout();
  await new LoginPage(page).goto();
  await page.getByRole("link", { name: "Continue with Test ID" }).click();
  await expect(page).toHaveURL("/profile");
  await new Header(page).expectSignedInAs(name);
});
