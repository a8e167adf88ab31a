// The OpenID provider the Buzón tests run on loopback: oidc-provider (a certified
// implementation) over HTTPS with the test CA's certificate.
//
//   node provider.mjs PORT CERT.pem KEY.pem [TTL]
//
// Issuer https://127.0.0.1:PORT. Clients (secret "secret", client_secret_basic):
//   alice-app, bob-app, stranger-app — client credentials, device flow and refresh
//   tokens; their access tokens carry the email of the client's `email` metadata
//   (alice@example.com, bob@example.com, stranger@elsewhere.test) besides `sub`.
// Resources (RFC 8707 `resource=`), all with scope "pop3":
//   urn:buzon          aud "buzon", JWT, TTL seconds (default 300; the default resource)
//   urn:buzon:short    aud "buzon", JWT, 2 s (for expiry)
//   urn:other          aud "other-service", JWT, 300 s
//   urn:buzon:opaque   aud "buzon", opaque (for introspection), 300 s
// Introspection and revocation (RFC 7662, RFC 7009) are on.
// Device flow: the provider's own pages (/device, then the login and consent
// interactions, which accept any login name with any password).
// Prints "ready" on stdout once it listens; stops on SIGTERM.
import https from 'node:https';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [port, certFile, keyFile, ttl] = process.argv.slice(2);
const issuer = `https://127.0.0.1:${port}`;

const resources = {
  'urn:buzon': { audience: 'buzon', accessTokenTTL: Number(ttl || 300), accessTokenFormat: 'jwt' },
  'urn:buzon:short': { audience: 'buzon', accessTokenTTL: 2, accessTokenFormat: 'jwt' },
  'urn:other': { audience: 'other-service', accessTokenTTL: 300, accessTokenFormat: 'jwt' },
  'urn:buzon:opaque': { audience: 'buzon', accessTokenTTL: 300, accessTokenFormat: 'opaque' },
};

const client = (id, email) => ({
  client_id: id,
  client_secret: 'secret',
  email,
  grant_types: [
    'client_credentials',
    'urn:ietf:params:oauth:grant-type:device_code',
    'refresh_token',
  ],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [
    client('alice-app', 'alice@example.com'),
    client('bob-app', 'bob@example.com'),
    client('stranger-app', 'stranger@elsewhere.test'),
  ],
  extraClientMetadata: { properties: ['email'] },
  cookies: { keys: ['buzon-test-cookie-key'] },
  scopes: ['openid', 'offline_access', 'pop3'],
  features: {
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:buzon',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        const r = resources[resource];
        if (!r) throw new Error(`unknown resource ${resource}`);
        return { scope: 'pop3', ...r };
      },
    },
  },
  // Device flow: a refresh token whenever the client may have one.
  issueRefreshToken: async (ctx, c) => c.grantTypeAllowed('refresh_token'),
  extraTokenClaims: async (ctx, token) => {
    if (token.kind !== 'AccessToken' && token.kind !== 'ClientCredentials') return undefined;
    // Device-flow tokens name the user who logged in on the provider's page.
    if (token.accountId) return { email: `${token.accountId}@example.com` };
    return { email: token.client?.email ?? ctx.oidc.client?.email };
  },
  loadExistingGrant: async (ctx) => {
    // Consent is given once per client and account, as a real provider remembers it.
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope('urn:buzon', 'pop3');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const server = https.createServer(
  { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  provider.callback(),
);
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
