// Passkeys in a real browser, with Chromium's virtual authenticator (the CDP WebAuthn
// domain) standing in for a laptop's or phone's: adding one from the security page, then
// signing in with it and nothing else, from the username field's autofill and from the
// button, and removing it. Each new view is checked with axe and photographed.
import type { CDPSession, Page } from "@playwright/test";
import { expectAccessible, photograph } from "./accessibility";
import { expect, test } from "./fixtures";
import { Header, LoginPage, openSecurity, RegisterPage } from "./pages/app";

const PASSWORD = "a passphrase nobody guesses";

/** A platform authenticator that holds passkeys, verifies its user and says yes at once. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function newAccount(page: Page) {
  const username = `pk${Date.now()}`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username, email: `${username}@example.com`, firstName: "Pass", lastName: "Key", password: PASSWORD,
  });
  await expect(page).toHaveURL("/profile");
  return username;
}

test("a passkey added on the security page signs in with no password", async ({ page }, testInfo) => {
  const { cdp, authenticatorId } = await virtualAuthenticator(page);
  const username = await newAccount(page);

  await openSecurity(page);
  const section = page.getByRole("region", { name: "Passkeys" });
  await expect(section.getByText("You have no passkeys yet.")).toBeVisible();
  await section.getByLabel("Name (optional)").fill("Test laptop");
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await expect(section.getByRole("status").filter({ hasText: "added" })).toContainText('Passkey "Test laptop" added');
  await expect(section.getByRole("row", { name: /Test laptop/ })).toContainText("Never");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential, "a passkey the browser can offer unasked").toBe(true);
  await expectAccessible(page, "security page with a passkey");
  await photograph(page, testInfo, "security-passkeys");

  // Autofill: the login page asks for a passkey as it opens, and the browser offers it in
  // the username field. Chromium's virtual authenticator answers for the person picking it
  // as soon as it may: held back while logging out (which lands on the login page), then
  // let go for a fresh visit, where nothing is clicked or typed.
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: false });
  await new Header(page).logout();
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: true });
  await page.goto("/login");
  await new Header(page).expectSignedInAs(username);
  await expect(page).toHaveURL("/profile");
});

test("the passkey button signs in, and a removed passkey no longer does", async ({ page }, testInfo) => {
  // A browser that offers no passkeys in autofill (as some still don't): the button it is.
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  await virtualAuthenticator(page);
  const username = await newAccount(page);
  await openSecurity(page);
  const section = page.getByRole("region", { name: "Passkeys" });
  await section.getByRole("button", { name: "Add a passkey" }).click();
  await expect(section.getByRole("status").filter({ hasText: "added" })).toContainText("Chrome on Linux");

  await new Header(page).logout();
  const login = new LoginPage(page);
  await login.goto();
  await expect(login.username, "offers passkeys in autofill").toHaveAttribute("autocomplete", "username webauthn");
  const button = page.getByRole("button", { name: "Sign in with a passkey" });
  await expect(button).toBeEnabled();
  await expectAccessible(page, "login with a passkey button");
  await photograph(page, testInfo, "login-passkey");
  await button.click();
  await new Header(page).expectSignedInAs(username);

  // Removed (the sign-in just now counts as recent: no password asked), then refused.
  await openSecurity(page);
  await section.getByRole("button", { name: /Remove passkey/ }).click();
  await expect(section.getByText("You have no passkeys yet.")).toBeVisible();
  await new Header(page).logout();
  await login.goto();
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toContainText("was not accepted");
  await expect(new Header(page).loginLink).toBeVisible();
});
