import { expect, test } from "./fixtures";
import { ProfilePage, RegisterPage } from "./pages/app";

test("a user edits their profile; the server's field errors show on the field", async ({ page }) => {
  const username = `editor${Date.now()}`;
  const email = `${username}@example.com`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username,
    email,
    firstName: "Ed",
    lastName: "Itor",
    password: "a passphrase nobody guesses",
  });
  const profile = new ProfilePage(page);
  await profile.expectShows(username, "Ed", "Itor", email);

  await page.getByRole("button", { name: "Edit profile" }).click();
  await page.getByLabel("First name").fill("Edwina");
  await page.getByLabel("Last name").fill("   "); // the browser accepts it; the server doesn't
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\S/ })).toHaveText("Enter your last name.");
  await expect(page.getByLabel("Last name")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("First name")).not.toHaveAttribute("aria-invalid", "true");
  // The address is not edited here: it changes through a mailed link (security page).
  await expect(page.getByLabel("Email")).toHaveCount(0);

  await page.getByLabel("Last name").fill("Itor-Smith");
  await page.getByRole("button", { name: "Save" }).click();
  await profile.expectShows(username, "Edwina", "Itor-Smith", email);
  await page.reload();
  await profile.expectShows(username, "Edwina", "Itor-Smith", email);
});
