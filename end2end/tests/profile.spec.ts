import { expect, test } from "./fixtures";
import { ProfilePage, RegisterPage } from "./pages/app";

test("a user edits their profile; the server's field errors show on the field", async ({ page }) => {
  const username = `editor${Date.now()}`;
  await new RegisterPage(page).goto();
  await new RegisterPage(page).register({
    username,
    email: "ed@example.com",
    firstName: "Ed",
    lastName: "Itor",
    password: "a passphrase nobody guesses",
  });
  const profile = new ProfilePage(page);
  await profile.expectShows(username, "Ed", "Itor", "ed@example.com");

  await page.getByRole("button", { name: "Edit profile" }).click();
  await page.getByLabel("First name").fill("Edwina");
  await page.getByLabel("Email").fill("edwina@localhost"); // the browser accepts it; the server doesn't
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert")).toHaveText("Enter a valid email address.");
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("First name")).not.toHaveAttribute("aria-invalid", "true");

  await page.getByLabel("Email").fill("edwina@example.com");
  await page.getByRole("button", { name: "Save" }).click();
  await profile.expectShows(username, "Edwina", "Itor", "edwina@example.com");
  await page.reload();
  await profile.expectShows(username, "Edwina", "Itor", "edwina@example.com");
});
