// Mailed links in a real browser, with a real SMTP server receiving the mail (mailbox.ts):
// verifying an address, forgot password, changing the address, deleting the account. Each
// test makes its own user, so its mail and its sessions are its own.
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { linkPath } from "./mailbox";
import { Header, LoginPage, openSecurity, ProfilePage, RegisterPage } from "./pages/app";

const PASSWORD = "a passphrase nobody guesses";

async function newUser(page: Page, prefix: string) {
  const username = `${prefix}${Date.now()}`;
  const email = `${username}@example.com`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({ username, email, firstName: "Rec", lastName: "Overy", password: PASSWORD });
  await expect(page).toHaveURL("/profile");
  return { username, email };
}

const banner = (page: Page) => page.getByText("Please confirm your email address");

test("the registration mail's link verifies the address, and a mail scanner opening it changes nothing", async ({ page, mailbox }) => {
  const { email } = await newUser(page, "verify");
  await expect(banner(page)).toBeVisible();
  const mail = await mailbox.waitFor(email, /Confirm your email address/);
  expect(mail.text).toContain("24 hours");
  const link = linkPath(mail, "verify-email");

  // A scanner fetches the link (GET and HEAD) before the person clicks: nothing happens.
  expect((await page.request.get(link)).status()).toBe(200);
  expect((await page.request.head(link)).status()).toBe(200);
  await page.reload();
  await expect(banner(page)).toBeVisible();

  // "Resend" mails a new link; the first one is dead from then on.
  await page.getByRole("button", { name: "Resend the link" }).click();
  await expect(page.getByText("A new link is on its way.")).toBeVisible();
  await expect.poll(() => mailbox.to(email).length).toBe(2);
  const newer = linkPath(mailbox.to(email)[1], "verify-email");

  await page.goto(link);
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByRole("alert")).toContainText("not valid any more");

  await page.goto(newer);
  await expect(page.getByRole("heading", { name: "Confirm your email address" })).toBeVisible();
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByRole("status")).toHaveText("Your email address is confirmed. Thank you.");
  await page.getByRole("link", { name: "Go to your profile" }).click();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await expect(banner(page)).toHaveCount(0);
});

test("forgot password: the mailed link sets a new password and signs out the other tabs", async ({ page, browser, mailbox, mode }) => {
  const { username, email } = await newUser(page, "forgot");
  const signedInTab = await page.context().newPage();
  await signedInTab.goto("/profile");
  await expect(signedInTab.getByRole("heading", { name: "Your profile" })).toBeVisible();

  // Somewhere else, someone who forgot the password.
  const elsewhere = await (await browser.newContext()).newPage();
  await new LoginPage(elsewhere).goto();
  await elsewhere.getByRole("link", { name: "Forgot password?" }).click();
  await expect(elsewhere.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
  await elsewhere.getByLabel("Email").fill(email);
  await elsewhere.getByRole("button", { name: "Send me a link" }).click();
  await expect(elsewhere.getByRole("status")).toContainText("If an account uses that address");

  const mail = await mailbox.waitFor(email, /Reset your password/);
  expect(mail.text).toContain("1 hour");
  const link = linkPath(mail, "reset-password");
  expect((await elsewhere.request.get(link)).status()).toBe(200); // a scanner: changes nothing
  await elsewhere.goto(link);
  await expect(elsewhere.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
  const field = elsewhere.getByLabel("New password");
  await field.fill("short");
  await expect(elsewhere.getByRole("list", { name: "Requirements" })).toContainText("At least 8 characters");
  await field.fill("my new and rather long passphrase");
  await elsewhere.getByRole("button", { name: "Set new password" }).click();
  await expect(elsewhere.getByRole("status")).toContainText("every session of your account has ended");
  await mailbox.waitFor(email, /Your password was reset/);

  // A signed-in tab finds its session gone as soon as it talks to the server.
  await signedInTab.reload();
  await expect(signedInTab.getByRole("heading", { name: "Log in" })).toBeVisible();
  // In localStorage mode that tab's sign-out reaches the others through storage; in cookie
  // mode each tab holds its access token in memory and learns on its next call.
  if (mode === "cookie") await page.getByRole("link", { name: "Security" }).click();
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
  const login = new LoginPage(page);
  await login.login(username, PASSWORD);
  await expect(login.error).toHaveText("No active account found with the given credentials");
  await login.login(username, "my new and rather long passphrase");
  await new Header(page).expectSignedInAs(username);
  await new ProfilePage(page).goto();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await expect(banner(page)).toHaveCount(0); // the reset link proved the address
});

test("changing the address mails both addresses and takes effect when the new one is proved", async ({ page, mailbox }) => {
  const { username, email } = await newUser(page, "change");
  const newEmail = `new-${email}`;
  await openSecurity(page);
  await page.getByLabel("New email address").fill(newEmail);
  // Just signed in: the password was proved moments ago, so it is not asked again.
  await expect(page.getByLabel("Your password")).toHaveCount(0);
  await page.getByRole("button", { name: "Send the link" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Check" })).toContainText(newEmail);

  const notice = await mailbox.waitFor(email, /about to change/);
  expect(notice.text).toContain(newEmail);
  const link = linkPath(await mailbox.waitFor(newEmail, /Confirm your new email address/), "verify-email");
  await new ProfilePage(page).goto();
  await new ProfilePage(page).expectShows(username, "Rec", "Overy", email);

  await page.goto(link);
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByRole("status")).toHaveText("Your email address is confirmed. Thank you.");
  await new ProfilePage(page).goto();
  await new ProfilePage(page).expectShows(username, "Rec", "Overy", newEmail);
  await mailbox.waitFor(email, /Your email address was changed/);
});

test("deleting the account signs out, frees the username and says goodbye by mail", async ({ page, mailbox }) => {
  const { username, email } = await newUser(page, "delete");
  await openSecurity(page);
  const remove = page.getByRole("button", { name: "Delete my account" });
  await expect(remove).toBeDisabled();
  await page.getByLabel("I understand: delete my account and everything in it").check();
  await remove.click();
  await expect(new Header(page).loginLink).toBeVisible();
  await mailbox.waitFor(email, /Your account was deleted/);

  const login = new LoginPage(page);
  await login.goto();
  await login.login(username, PASSWORD);
  await expect(login.error).toHaveText("No active account found with the given credentials");
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({ username, email, firstName: "Re", lastName: "Born", password: PASSWORD });
  await expect(page).toHaveURL("/profile");
});
