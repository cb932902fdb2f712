// REST calls to /api/v1 with the session cookie and the CSRF token. Every failure becomes an
// ApiError whose message is the server's localised text (or a generic one).
export class ApiError extends Error {
  constructor (status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

export const session = { csrf: null, t: (key) => key, onUnauthorized: null }

export async function api (method, path, body) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET' && session.csrf) headers['X-CSRF-Token'] = session.csrf
  let response
  try {
    response = await fetch('/api/v1' + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  } catch (e) {
    throw new ApiError(0, 'offline', session.t('error_network'))
  }
  let data = null
  try { data = await response.json() } catch (e) { data = null }
  if (!response.ok || !data || data.ok === false) {
    const error = (data && data.error) || {}
    if (response.status === 401 && session.onUnauthorized && !path.startsWith('/auth/')) {
      session.onUnauthorized(error.message)
    }
    const failure = new ApiError(response.status, error.code || 'unavailable',
      error.message || session.t('error_generic'))
    failure.field = error.field || null // the input it is about, when the server names one
    throw failure
  }
  return data
}

export function query (params) {
  const parts = []
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value != null) parts.push(`${key}=${encodeURIComponent(value)}`)
  }
  return parts.length ? '?' + parts.join('&') : ''
}
