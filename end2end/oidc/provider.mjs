// A real OpenID Connect provider for the tests: npm `oidc-provider` (certified by the
// OpenID Foundation) with its development login pages, on 127.0.0.1. Any login name is an
// account: `alice` is alice@example.com with a verified address; a name starting with
// `unverified` has an address the provider does not vouch for.
//
//   node provider.mjs <port>
//   env: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated)
//
// Prints `OIDC_READY <issuer>` on stdout once it listens.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node provider.mjs <port>");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID ?? "test-client",
    client_secret: process.env.OIDC_CLIENT_SECRET ?? "test-secret",
    redirect_uris: (process.env.OIDC_REDIRECT_URIS ?? "http://localhost:3000/auth/test/callback").split(","),
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
  },
  // The claims in the ID token itself, as many providers do; the app reads userinfo only
  // when they are missing.
  conformIdTokenClaims: false,
  ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  async findAccount(ctx, sub) {
    const verified = !sub.startsWith("unverified");
    const given = sub[0].toUpperCase() + sub.slice(1);
    return {
      accountId: sub,
      async claims() {
        return {
          sub, email: `${sub}@example.com`, email_verified: verified, preferred_username: sub,
          name: `${given} Example`, given_name: given, family_name: "Example",
        };
      },
    };
  },
  // A first-party test provider: no consent page after the login page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`OIDC_READY ${issuer}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
