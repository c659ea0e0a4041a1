/**
 * The portal server's JSON API (docs/portal.md, "The JSON API"), one function per route. Every failure becomes a
 * `PortalError` whose message is a sentence a person understands: the server's `{error: {code, message}}` when
 * it sent one, else a sentence made here from what happened (no answer, not signed in, an unexpected status).
 */
export class PortalError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'PortalError';
    this.status = status;
    this.code = code;
  }
}

const FALLBACK = {
  401: 'You are not signed in (or your sign-in expired): sign in again.',
  403: 'You are not allowed to do that.',
  404: 'That was not found.',
  429: 'Too many requests: wait a moment and try again.',
};

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' }
        : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new PortalError(0, 'Unreachable', 'The portal cannot be reached: check your network connection.');
  }
  const data = response.status === 204 ? null : await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = data?.error ?? {};
    const words = error.message ?? FALLBACK[response.status]
      ?? `The portal could not do that (it answered ${response.status}).`;
    throw new PortalError(response.status, error.code ?? String(response.status), words);
  }
  return data;
}

const query = (params) => {
  const search = new URLSearchParams();
  Object.entries(params).forEach(([key, value]) => { if (value) search.set(key, value); });
  const text = search.toString();
  return text ? `?${text}` : '';
};

/** `{id, displayName, tenantId, tenantName?, upn, phoneNumber}`, or null when nobody is signed in. */
export async function me() {
  try {
    return await request('GET', '/api/me');
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

/** ACS's AccessToken shape for the credential's tokenRefresher (`expiresOn` is ISO 8601 or epoch ms). */
export async function communicationToken() {
  const { token, expiresOn } = await request('GET', '/api/token');
  const expiresOnTimestamp = typeof expiresOn === 'number' ? expiresOn : Date.parse(expiresOn);
  return { token, expiresOnTimestamp };
}

export const directory = (search, next) => request('GET', `/api/directory${query({ search, next })}`);
export const startChat = (userId) => request('POST', '/api/chats', { userId });
export const startGroupChat = (userIds, topic) => request('POST', '/api/chats', { userIds, topic });
export const meetings = (start, end) => request('GET', `/api/meetings${query({ start: start.toISOString(),
  end: end.toISOString() })}`);
export const customers = (search) => request('GET', `/api/customers${query({ search })}`);
export const lookupCustomer = (number) => request('GET', `/api/customers/lookup${query({ number })}`);
export const person = (userId) => request('GET', `/api/people/${encodeURIComponent(userId)}`);
export const history = () => request('GET', '/api/history');
export const recordCall = (entry) => request('POST', '/api/history', entry);
export const createCustomer = (fields) => request('POST', '/api/customers', fields);
export const updateCustomer = (id, fields) => request('PATCH', `/api/customers/${encodeURIComponent(id)}`, fields);
export const deleteCustomer = (id) => request('DELETE', `/api/customers/${encodeURIComponent(id)}`);
