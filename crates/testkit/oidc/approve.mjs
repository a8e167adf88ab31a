// Approves a device authorization (RFC 8628) the way a person does in a browser: opens
// the verification URI, confirms the code, logs in as ACCOUNT on the provider's own login
// page and goes through consent, following redirects and keeping cookies.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node approve.mjs VERIFICATION_URI_COMPLETE ACCOUNT
//
// Prints the last page's title and exits 0 when the provider says the sign-in succeeded.
const [start, account] = process.argv.slice(2);
const jar = new Map();

function remember(res) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
}

function cookies() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function go(url, body) {
  let res = await fetch(url, {
    method: body ? 'POST' : 'GET',
    body: body ? new URLSearchParams(body) : undefined,
    headers: { cookie: cookies() },
    redirect: 'manual',
  });
  for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops += 1) {
    remember(res);
    url = new URL(res.headers.get('location'), url).href;
    res = await fetch(url, { headers: { cookie: cookies() }, redirect: 'manual' });
  }
  remember(res);
  return { url, html: await res.text() };
}

function form(html) {
  const m = html.match(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
  if (!m) return null;
  const fields = {};
  for (const input of m[2].matchAll(/<input[^>]*>/g)) {
    const name = input[0].match(/name="([^"]*)"/);
    const value = input[0].match(/value="([^"]*)"/);
    if (name) fields[name[1]] = value ? value[1] : '';
  }
  if ('login' in fields) fields.login = account;
  if ('password' in fields) fields.password = 'any password';
  return { action: m[1], fields };
}

let page = await go(start);
for (let step = 0; step < 8; step += 1) {
  const f = form(page.html);
  if (!f) break;
  page = await go(new URL(f.action, page.url).href, f.fields);
}
const title = (page.html.match(/<title>([^<]*)<\/title>/) || [])[1] || '';
console.log(title);
process.exit(/success/i.test(page.html) ? 0 : 1);
