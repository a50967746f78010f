import { expect, test } from "./fixtures";
import { RegisterPage } from "./pages/app";

test("the register page ticks off the server's password rules as the user types", async ({ page }) => {
  await new RegisterPage(page).goto();
  const rules = page.getByRole("list", { name: "Requirements" }).getByRole("listitem");
  await page.getByLabel("Username").fill("newbie12");
  const password = page.getByLabel("Password");

  await password.fill("newbie");
  await expect(rules).toHaveText([/At least 8 characters \(not met\)$/, /Not your username \(met\)$/]);
  await password.fill("NEWBIE12");
  await expect(rules).toHaveText([/At least 8 characters \(met\)$/, /Not your username \(not met\)$/]);

  // The server says the same about what the list shows as unmet.
  await page.getByLabel("Email").fill("newbie@example.com");
  await page.getByLabel("First name").fill("New");
  await page.getByLabel("Last name").fill("Bie");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toHaveText("The password must not be your username.");
  await expect(password).toHaveAttribute("aria-invalid", "true");

  await password.fill("a long passphrase nobody guesses");
  await expect(rules).toHaveText([/At least 8 characters \(met\)$/, /Not your username \(met\)$/]);
});
