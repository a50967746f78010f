// Two-step sign-in in a real browser: turning on an authenticator app from the security
// page (codes computed here with npm otpauth, as a phone app would), then signing in with a
// code, and with a recovery code. Each view is checked with axe and photographed.
import * as OTPAuth from "otpauth";
import type { Page } from "@playwright/test";
import { expectAccessible, photograph } from "./accessibility";
import { expect, test } from "./fixtures";
import { Header, LoginPage, openSecurity, RegisterPage } from "./pages/app";

const PASSWORD = "a passphrase nobody guesses";

async function signIn(page: Page, username: string) {
  const login = new LoginPage(page);
  await login.goto();
  await login.login(username, PASSWORD);
}

test("an authenticator app guards sign-in; a recovery code gets in once", async ({ page }, testInfo) => {
  const username = `mfa${Date.now()}`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username, email: `${username}@example.com`, firstName: "Two", lastName: "Step", password: PASSWORD,
  });
  await expect(page).toHaveURL("/profile");

  await openSecurity(page);
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  await expect(page.getByRole("img", { name: "QR code of your authenticator key" })).toBeVisible();
  await expectAccessible(page, "two-step setup");
  await photograph(page, testInfo, "two-step-setup");
  const secret = (await page.locator("code.secret").textContent())!.trim();
  const app = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });

  await page.getByLabel("Code from the app").fill("000000");
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toContainText("does not match");
  await page.getByLabel("Code from the app").fill(app.generate());
  await page.getByRole("button", { name: "Turn on" }).click();
  const shown = page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem");
  await expect(shown).toHaveCount(10);
  const codes = await shown.allTextContents();
  await expect(page.getByRole("link", { name: "Download" })).toHaveAttribute("download", /recovery-codes/);
  await expectAccessible(page, "recovery codes");
  await photograph(page, testInfo, "recovery-codes");
  await page.getByRole("button", { name: "I saved them" }).click();
  await expect(page.getByText("On: signing in asks for a code")).toBeVisible();
  await expect(page.getByText("10 of 10 recovery codes left.")).toBeVisible();
  await photograph(page, testInfo, "security-two-step-on");

  // Signing in now takes a code: the next step's (the current one turned it on).
  await new Header(page).logout();
  await signIn(page, username);
  const codeField = page.getByLabel("Authentication code");
  await expect(codeField).toHaveAttribute("autocomplete", "one-time-code");
  await expect(new Header(page).loginLink).toBeVisible(); // not signed in yet
  await expectAccessible(page, "login second step");
  await photograph(page, testInfo, "login-second-step");
  await codeField.fill("123456");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toContainText("not right");
  await codeField.fill(app.generate({ timestamp: Date.now() + 30_000 }));
  await page.getByRole("button", { name: "Continue" }).click();
  await new Header(page).expectSignedInAs(username);

  // Without the phone: a recovery code, once.
  await new Header(page).logout();
  await signIn(page, username);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Continue" }).click();
  await new Header(page).expectSignedInAs(username);
  await openSecurity(page);
  await expect(page.getByText("9 of 10 recovery codes left.")).toBeVisible();

  await new Header(page).logout();
  await signIn(page, username);
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toContainText("not right");
});
