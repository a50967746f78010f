// axe-core (no serious or critical violation) and screenshots at phone and desktop widths,
// attached to the test results (end2end/test-results/<test>/<page>-<width>.png).
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, type TestInfo } from "@playwright/test";

const WIDTHS = [
  { name: "phone", width: 390, height: 844 },
  { name: "desktop", width: 1280, height: 800 },
];

export async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(serious, `${what}: serious or critical accessibility violations`).toEqual([]);
}

export async function photograph(page: Page, testInfo: TestInfo, what: string) {
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    // Written to the test's output folder (kept after the run), and listed in its report.
    const path = testInfo.outputPath(`${what}-${size.name}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`${what}-${size.name}.png`, { path, contentType: "image/png" });
  }
}

