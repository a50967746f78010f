// Page objects: what a user sees and does, located by role and label.
import { expect, type Locator, type Page } from "@playwright/test";

export const STORAGE_KEY = "leptos_auth.session";

export class Header {
  readonly banner: Locator;
  readonly username: Locator;
  readonly logoutButton: Locator;
  readonly loginLink: Locator;
  readonly registerLink: Locator;

  constructor(readonly page: Page) {
    this.banner = page.getByRole("banner");
    this.username = this.banner.getByTitle("Signed in");
    this.logoutButton = this.banner.getByRole("button", { name: "Log out" });
    this.loginLink = this.banner.getByRole("link", { name: "Log in" });
    this.registerLink = this.banner.getByRole("link", { name: "Register" });
  }

  async expectSignedInAs(username: string) {
    await expect(this.username).toHaveText(username);
    await expect(this.logoutButton).toBeVisible();
  }

  async logout() {
    await this.logoutButton.click();
    await expect(this.loginLink).toBeVisible();
  }
}

export class LoginPage {
  readonly heading: Locator;
  readonly username: Locator;
  readonly password: Locator;
  readonly submit: Locator;
  readonly error: Locator;
  readonly showPassword: Locator;

  constructor(readonly page: Page) {
    this.heading = page.getByRole("heading", { name: "Log in" });
    this.username = page.getByLabel("Username");
    this.password = page.getByLabel("Password", { exact: true });
    this.submit = page.getByRole("button", { name: "Log in" });
    // The form's own message (the passkey button below the form has one of its own).
    this.error = page.locator("form").getByRole("alert");
    this.showPassword = page.getByLabel("Show password");
  }

  async goto(next?: string) {
    await this.page.goto(next ? `/login?next=${encodeURIComponent(next)}` : "/login");
    await expect(this.heading).toBeVisible();
  }

  /** Fills and submits the form, once the page has hydrated (the button is disabled until
   * then): hydration sets the inputs to the page's state, so what was typed before is lost. */
  async login(username: string, password: string) {
    await expect(this.submit).toBeEnabled();
    await this.username.fill(username);
    await this.password.fill(password);
    await this.submit.click();
  }
}

export class RegisterPage {
  constructor(readonly page: Page) {}

  /** Opens the page and waits until it has hydrated (the button is enabled then): what is
   * typed before that would reach the input but not the page's checklist. */
  async goto() {
    await this.page.goto("/register");
    await expect(this.page.getByRole("heading", { name: "Create an account" })).toBeVisible();
    await expect(this.page.getByRole("button", { name: "Create account" })).toBeEnabled();
  }

  async register(fields: { username: string; email: string; firstName: string; lastName: string; password: string }) {
    const p = this.page;
    await p.getByLabel("Username").fill(fields.username);
    await p.getByLabel("Email").fill(fields.email);
    await p.getByLabel("First name").fill(fields.firstName);
    await p.getByLabel("Last name").fill(fields.lastName);
    await p.getByLabel("Password").fill(fields.password);
    const submit = p.getByRole("button", { name: "Create account" });
    await expect(submit).toBeEnabled();
    await submit.click();
  }
}

export class ProfilePage {
  readonly heading: Locator;
  readonly values: Locator;

  constructor(readonly page: Page) {
    this.heading = page.getByRole("heading", { name: "Your profile" });
    this.values = page.getByRole("definition");
  }

  async goto() {
    await this.page.goto("/profile");
  }

  /** Username, first name, last name, email: in the order the page lists them. */
  async expectShows(username: string, first: string, last: string, email: string) {
    await expect(this.heading).toBeVisible();
    await expect(this.values).toHaveText([username, first, last, email]);
  }
}

export const REFRESH_COOKIE = "__Host-leptos_auth_refresh";

/**
 * The tokens this browser keeps, wherever its mode keeps them: localStorage, or in cookie mode
 * the HttpOnly refresh cookie (the access token is in the page's memory only: `null`).
 * `null` when signed out.
 */
export async function heldTokens(page: Page): Promise<{ access: string | null; refresh: string } | null> {
  const raw = await page.evaluate((key) => window.localStorage.getItem(key), STORAGE_KEY);
  if (raw) return JSON.parse(raw);
  const cookie = (await page.context().cookies()).find((c) => c.name === REFRESH_COOKIE);
  return cookie ? { access: null, refresh: cookie.value } : null;
}

/** An access token for `username`, from the REST API (the same in both modes). */
export async function restAccessToken(page: Page, username: string, password: string): Promise<string> {
  const res = await page.request.post("/api/token/", { data: { username, password } });
  expect(res.status()).toBe(200);
  return (await res.json()).access;
}

/** The headers the app's own server function calls carry (required in cookie mode). */
export function appCallHeaders(baseURL: string): Record<string, string> {
  return { "x-leptos-auth-csrf": "1", origin: new URL(baseURL).origin };
}

/** Collects console errors and uncaught exceptions, for "hydrates without errors". */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

/** Opens the security page and waits until it has hydrated. Its code is a lazy chunk, so
 * hydration comes later than the page itself; what is typed before it is lost. */
export async function openSecurity(page: Page) {
  await page.goto("/security");
  await expect(page.getByRole("button", { name: "Change password" })).toBeEnabled();
}
