// Every page is scanned with axe-core (no serious or critical violation) and photographed at
// phone and desktop widths: the pictures are attached to the test results
// (end2end/test-results/<test>/<page>-<width>.png) for a person to look at.
import type { Page, TestInfo } from "@playwright/test";
import { expectAccessible, photograph } from "./accessibility";
import { expect, test } from "./fixtures";
import { ADMIN } from "../playwright.config";
import { LoginPage, restAccessToken } from "./pages/app";

/** Opens `path` and waits for `heading`, so the page is rendered and hydrated. */
async function visit(page: Page, path: string, heading: string) {
  await page.goto(path);
  await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
}

/** Visits each [path, heading, name], checks it with axe and photographs it. */
async function scanAll(page: Page, testInfo: TestInfo, pages: [string, string, string][]) {
  for (const [path, heading, name] of pages) {
    await visit(page, path, heading);
    await expectAccessible(page, name);
    await photograph(page, testInfo, name);
  }
}

test("the pages anyone can open are accessible", async ({ page }, testInfo) => {
  await visit(page, "/", "Welcome");
  await expectAccessible(page, "home");
  await photograph(page, testInfo, "home");
  await visit(page, "/register", "Create an account");
  await expectAccessible(page, "register");
  await photograph(page, testInfo, "register");
  await visit(page, "/no-such-page", "Page not found");
  await expectAccessible(page, "not found");
  await photograph(page, testInfo, "not-found");
  await visit(page, "/login", "Log in");
  // With an error shown, too.
  await new LoginPage(page).login("user1", "not-the-password");
  await expect(new LoginPage(page).error).not.toBeEmpty();
  await expectAccessible(page, "login with an error");
  await photograph(page, testInfo, "login");
});

test("the pages mailed links open, and the way to them, are accessible", async ({ page }, testInfo) => {
  await scanAll(page, testInfo, [
    ["/forgot-password", "Forgot your password?", "forgot-password"],
    ["/reset-password?token=not-a-real-one", "Choose a new password", "reset-password"],
    ["/verify-email?token=not-a-real-one", "Confirm your email address", "verify-email"],
  ]);
  // An answer shown, too: a used or unknown link says so.
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByRole("alert")).toContainText("not valid any more");
  await expectAccessible(page, "verify-email with an error");
});

test("the signed-in pages are accessible, the admin's included", async ({ page }, testInfo) => {
  const login = new LoginPage(page);
  await login.goto();
  await login.login(ADMIN.username, ADMIN.password);
  await expect(page).toHaveURL("/profile"); // signed in before navigating away
  // A second session, so the security page lists one with a "Sign out" button.
  await restAccessToken(page, ADMIN.username, ADMIN.password);
  await scanAll(page, testInfo, [
    ["/profile", "Your profile", "profile"],
    ["/security", "Where you're signed in", "security"],
    ["/admin", "Users", "admin"],
  ]);

  // What the security page photographs showed once, at desktop width: a "Sign out" button
  // wrapped one letter per line, and the two cards touching.
  await page.setViewportSize({ width: 1280, height: 800 });
  await visit(page, "/security", "Where you're signed in");
  const button = (await page.getByRole("button", { name: /^Sign out / }).first().boundingBox())!;
  expect(button.width, "the button is wider than tall: one line").toBeGreaterThan(button.height * 1.5);
  const card = (heading: string) =>
    page.getByRole("heading", { name: heading }).locator("xpath=ancestor::section[1]").boundingBox();
  const [sessions, password] = [(await card("Where you're signed in"))!, (await card("Change your password"))!];
  expect(password.y - (sessions.y + sessions.height), "space between the cards").toBeGreaterThanOrEqual(12);
  // The admin table's buttons and words stay whole too.
  await visit(page, "/admin", "Users");
  const disable = (await page.getByRole("button", { name: /^Disable / }).first().boundingBox())!;
  expect(disable.width, "the Disable button is on one line").toBeGreaterThan(disable.height * 1.5);
  const lines = await page.getByRole("cell", { name: "admin", exact: true }).evaluate((cell) => {
    const text = document.createRange();
    text.selectNodeContents(cell);
    return text.getClientRects().length;
  });
  expect(lines, "the role column's one word is on one line").toBe(1);
});

test("the Unauthorized page is accessible", async ({ page }, testInfo) => {
  const login = new LoginPage(page);
  await login.goto("/admin");
  await login.login("user2", "password2");
  await expect(page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await expectAccessible(page, "unauthorized");
  await photograph(page, testInfo, "unauthorized");
});
