// A real OpenID Connect provider for the tests: npm `oidc-provider` (certified by the
// OpenID Foundation) with its development login pages, on 127.0.0.1. Any login name is an
// account: `alice` is alice@example.com with a verified address; a name starting with
// `unverified` has an address the provider does not vouch for.
//
//   node provider.mjs <port>
//   env: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
//        OIDC_TAMPER (optional, tests of the app's ID token checks: see below)
//
// Each start signs with a key of its own, so starting it again on the same port is a key
// rotation. Prints `OIDC_READY <issuer>` on stdout once it listens.
import { randomUUID } from "node:crypto";
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node provider.mjs <port>");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const kid = randomUUID();
const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
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
// OIDC_TAMPER makes the token endpoint hand out an ID token that a client must refuse,
// otherwise as issued: signed by this provider's own key but naming another `issuer` or
// `audience`, or `expired`; or (`key`) signed by another key under this key's id.
const tamper = process.env.OIDC_TAMPER;
const tampered = {
  issuer: (claims) => ({ ...claims, iss: `${issuer}/another-tenant` }),
  audience: (claims) => ({ ...claims, aud: "another-client", azp: "another-client" }),
  expired: (claims) => ({ ...claims, iat: claims.iat - 3600, exp: claims.iat - 1800 }),
  key: (claims) => claims,
};
if (tamper) {
  if (!tampered[tamper]) {
    console.error(`OIDC_TAMPER must be one of ${Object.keys(tampered).join(", ")}`);
    process.exit(2);
  }
  const key = tamper === "key" ? (await generateKeyPair("RS256")).privateKey : privateKey;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token" || typeof ctx.body?.id_token !== "string") return;
    const claims = tampered[tamper](decodeJwt(ctx.body.id_token));
    const idToken = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(key);
    ctx.body = { ...ctx.body, id_token: idToken };
  });
}

provider.listen(port, "127.0.0.1", () => console.log(`OIDC_READY ${issuer}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
